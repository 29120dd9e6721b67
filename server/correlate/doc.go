// Package correlate evaluates Sigma correlation rules (event_count,
// value_count, temporal, temporal_ordered) over the stream of events and
// the alerts that package detect raises on them.
//
// Rules live in the same files as detection rules: a YAML document with a
// "correlation" key is a correlation rule (detect skips it), and it names
// the rules it correlates by ID or by their "name" attribute, in the same
// file or anywhere in the loaded directories. LoadDirs parses and
// resolves them into a Set; every error carries file:line:col.
//
// Evaluation is on event time. The watermark is the newest @timestamp seen
// (clamped to the wall clock plus Config.Tolerance). Each rule keeps, per
// group key (the tuple of its group-by values, aliases resolved per
// referenced rule; a list value such as host.ip gives one key per
// element), the events of its open window:
//
//   - event_count and value_count with only lower bounds (gt, gte) fire as
//     soon as some window of timespan holds enough events or distinct
//     values; with upper or exact bounds (lt, lte, eq, neq) the window from
//     the key's first event is judged when it closes;
//   - temporal fires when every referenced rule (or as many as the
//     condition asks) matched within timespan; temporal_ordered when they
//     matched in the written order.
//
// A key starts over after it fires. An event older than the watermark
// minus the tolerance joins a window only if its key is still open, else
// it is dropped and counted; a window closes at its end plus the tolerance.
//
// Memory is bounded per key: event_count keeps at most (largest bound + 1)
// events, value_count at most (largest bound + 1) distinct values (hashed,
// with the latest event of each), temporal rules at most
// Config.MaxTemporal events per referenced rule; each kept event is its
// time, ID, rule index and value hash. Config.MaxKeys caps keys over all
// rules; past it the keys with the oldest newest event are evicted and
// counted. BenchmarkOpenKeys measures bytes per key (docs/benchmarks.md).
//
// State survives restarts through the store: Checkpoint writes each
// changed shard of a rule's keys as one entity of kind KindState with
// optimistic concurrency (a conflict with another replica merges both
// sides and retries), and Restore reads them back into a new Correlator.
// A kill loses nothing since the last checkpoint either: a complete
// checkpoint marks when it began (KindCheckpoint), and Replay runs the
// events stored since then back through detection and the windows.
//
// Alerts have dataset lachan.alert, the correlation's rule.id, rule.name,
// rule.level and tags, the group-by values as fields (and in
// lachan.correlation.group), and the IDs and times of the events they
// group in lachan.alert.source_ids and lachan.correlation.events, so that
// incidents carry them as evidence. The alerts of referenced rules are
// dropped unless a correlation using them sets generate: true.
package correlate
