// Package osquery collects host state from osqueryd. A Runner asks a
// running osqueryd for the queries of a pack through its extension socket
// (osquery-go, Thrift) and turns every row into an event; ParseResultLog
// turns osqueryd's own JSON result log (differential, snapshot and batch
// lines) into the same events, for hosts where osqueryd already runs its
// schedule and the agent only ships what it wrote.
package osquery
