// Package eventlog reads the Windows event logs on the PC and ships each
// event as telemetry: it subscribes to the configured channels through the
// Event Log API (EvtSubscribe, pull model), renders each event as XML
// (EvtRender) and converts it through internal/winevent, the mapping the
// server's .evtx reader uses, so that a rule sees the same fields whichever
// way an event came. The dataset is the channel's (windows.security,
// windows.sysmon, …).
//
// A bookmark per channel, saved in the state directory only after the
// events before it are spooled, makes a restart resume after the last
// spooled event; the event IDs come from the record (computer, channel,
// record ID), so an event read twice after a crash between the spool and
// the bookmark is still stored once. It also reports whether Sysmon runs
// and the hash of its configuration. Off Windows the collector reports
// that it has nothing to read.
package eventlog
