// Package winevent turns Windows event log records into events of the
// platform's model. It owns the one mapping from a record to fields that
// every path shares: the agent's events (the XML that EvtRender gives on
// the PC, read by ParseXML), osquery's windows_events rows, and the server's
// readers of .evtx files and JSON renderings (server/detect/winlog). A rule
// therefore sees the same fields whichever way an event came.
//
// System members become flat names joined by "_" (Provider_Name,
// TimeCreated_SystemTime, Execution_ProcessID); EventData and UserData
// members keep their own names (CommandLine, Image), which is what SigmaHQ
// rules use. Every event gets the dataset DatasetFor(Channel), such as
// windows.sysmon or windows.security.
package winevent
