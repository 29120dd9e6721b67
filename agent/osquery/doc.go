// Package osquery collects host state from osqueryd, in two ways.
//
// As an osquery extension (Extension), the agent is osqueryd's config
// plugin (it hands over the schedule and packs of the server's policy),
// its logger plugin (result logs in the event, snapshot and batch formats,
// and status logs, become events) and its distributed plugin (live
// queries). A Supervisor can start osqueryd with the flags that make it
// use the extension and restart it when it exits; or the extension
// attaches to an osqueryd already running.
//
// Without the extension, a Runner asks a running osqueryd for the queries
// of a pack through its extension socket (osquery-go, Thrift) and turns
// every row into an event; ParseResultLog turns osqueryd's own JSON result
// log into the same events, for hosts where osqueryd already runs its
// schedule and the agent only ships what it wrote.
package osquery
