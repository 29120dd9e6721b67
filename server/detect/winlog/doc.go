// Package winlog turns Windows event log records into events of the
// platform's model, so that Sigma rules written for Windows match them on
// their own field names.
//
// It reads three renderings: the nested JSON form of an event
// ({"Event": {"System": ..., "EventData": ...}}, as evtx_dump and the
// SigmaHQ regression data write it), the flat form (one object with
// EventID, Channel and the data fields at the top), and .evtx files, whose
// binary XML it reads itself (binxml.go): each record becomes the element
// tree of the event's XML form, values rendered as Windows renders their
// types (0x1fffff, {GUID}, S-1-5-18, 2019-03-18T16:17:56.7830000Z), the
// tree the agent gets from EvtRender.
// Several JSON objects may follow one another in one file, as may events
// of the platform's own JSON form, which pass through unchanged.
//
// Every Windows event gets the dataset DatasetFor(Channel), such as
// windows.sysmon or windows.security; detections/logsources.yml maps Sigma
// log sources onto those datasets. The mapping from a record to fields is
// internal/winevent's, which the agent uses for the events it reads from
// the Windows Event Log, so a rule sees the same fields either way.
package winlog
