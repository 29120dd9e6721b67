// Package embedded is the default store engine: one process, one data
// directory, no server to install. It keeps everything in a Pebble LSM tree
// (github.com/cockroachdb/pebble) and implements store.Store.
//
// # Key layout
//
// Events live in time partitions: one per data kind (store.DataKindOf:
// endpoint, network, alert) and UTC day. <part> is the kind's byte and the
// day as a big-endian uint32 with its sign bit flipped. <ts> is the event's
// @timestamp as nanoseconds since the Unix epoch, a big-endian int64 with its
// sign bit flipped so that byte order is time order for times before 1970
// too. <id> is the event ID, which event.Validate restricts to
// [0-9A-Za-z._:-] (so never a NUL byte).
//
//	meta/layout                           → "6": the layout version this directory holds
//	meta/part/<part>                      → the partition holds events; "6" when made in layout 6, else empty
//	t/<part>e<ts><id>                     → the locator of the event's row in its batch's column blocks (rows.go); before layout 7 the event as JSON (event.Event.MarshalJSON)
//	t/<part>x<gen><field>\x00<value>\x00<ts><id> → a posting list (see below); <ts><id> is its greatest event
//	t/<part>v<gen><field>\x00<ts><id>     → a column block: a batch's values of one field ("": its sort keys and field names); <ts><id> is its greatest event (columns.go)
//	t/<part>y<gen>                        → an index generation: its events' first and last @timestamp and count
//	id/<id>                               → <part><ts> of the event's primary key (layout 3: the whole key); none for an ID that leads with its event's millisecond
//	dl/<id>                               → a dead letter (store.DeadLetter as JSON)
//	en/<kind>\x00<id>                     → 8-byte big-endian version, then the document
//
// Within a partition the primary range is ordered by (timestamp, ID), which
// is also the search order and the cursor, so a time window is a key range
// and paging is a seek; partitions of one day never overlap another day in
// time, so a search walks the days in order and merges only one day's
// ranges at a time. id/ makes de-duplication and GetEvents a point lookup.
// An event whose ID leads with the millisecond of its own time
// (event.DeriveTimedID: osquery rows, Linux telemetry, flows, alerts;
// keys.go: timeKeyed) has no id/ entry: its ID names the day and the
// millisecond of its primary key, so GetEvents looks there, in each data
// kind's partition of that day, and its primary key tells PutEvents that
// it is stored. For such an event, "stored already" means an event of the
// same data kind, time and ID is: an event of another kind or time with
// the same ID is a new one, where an ID that does not lead with its
// event's millisecond (a Windows record's leads with its second, a YARA
// finding's is all hash) is the same event whatever its time. Senders that
// derive the ID from the record, time included, never tell the
// difference; a Windows record read from two renderings whose times differ
// below the millisecond, in the first millisecond of its second, is the
// one case known to.
//
// Layout 1 (one event range for all time, before partitions) and layout 2
// (posting lists without generations) are rewritten into the current one when such
// a directory is opened. Layout 3 differs from 4 only in that its id/ values
// hold the whole primary key, which is read as it is. Layout 5 writes its
// tables zstd-compressed (engine.go: tableCompression) where 4 wrote
// snappy, and its posting lists as rows of the batch's block of sort keys
// where 4 wrote the keys themselves (posting.go); Pebble reads each table
// by its own compression and the store reads every form of list. So a
// directory of layout 3 or 4 is marked 5 and nothing is rewritten. Layout 6
// leaves out the id/ entries of events that lead with their millisecond;
// events written before keep theirs and are found by them as before, so a
// directory of layout 3 to 5 is marked 6. Retention deletes the id/ entries
// of every event of a partition made before layout 6 (meta/part/ value
// empty) and only those of the others in one made since. Layout 7 writes
// no documents: a batch's column blocks (format 2) hold every value of its
// events, and an event's primary key holds the locator of its row there.
// A value says which it is (a document begins with '{'), so events written
// before keep their documents and are read by them, beside blocks of
// format 1, and a directory of layout 3 to 6 is marked 7. Layout 8 leaves
// out of agent.id's lists the events listed under the same value of
// host.id, and a query for an agent walks both; lists written before are
// whole, which that walk reads as well, so a directory of layout 3 to 7 is
// marked 8.
//
// # Retention
//
// DropBefore removes whole partitions: the id/ entries of their events,
// one range deletion over t/<part> (events and index entries together)
// and the meta key, in one batch. Pebble drops the files a range deletion covers without
// reading them, so retention costs little however much it removes; it works
// in whole days.
//
// # Field mapping and dead letters
//
// PutEvents checks every event against store.DefaultMapping — the mapping
// Elasticsearch's index templates are made from — and sets an event that
// does not fit aside under dl/ (in the same batch as the others) instead of
// storing it, so both engines refuse the same events. ReplayDeadLetters
// stores those that fit later and removes their dl/ entries in one batch.
//
// # Indexes
//
// An index entry is a posting list: one key per partition, index generation
// (gen.go: up to about 100,000 events in write order, and never more than
// one memtable's, so that a flush overlaps no older one: memtable.go), field, value and write batch, whose value names the batch's events with
// that value by their rows in the batch's block of sort keys (posting.go,
// columns.go): a byte or two an event where its sort key took about 20. An
// agent's batch shares its host, agent, unit and address, so one list
// stands for hundreds of one-event keys; the lists cut the index keys of a
// batch of 1,000 events of 300 PCs from 6,000 to about 1,200 and of one
// PC's batch to a handful. A newest-first walk of a value loads lists
// lazily from the greatest key down (a list whose greatest key is below
// every loaded candidate cannot hold the next one); an oldest-first walk
// reads the lists that reach the window and sorts them.
//
// The secondary indexes cover host.id, agent.id, lachan.unit, event.dataset
// and rule.id (source.ip and destination.ip are answered from the column
// blocks, columns.go). The server stamps an agent's events with its ID as
// both host.id and agent.id, so agent.id's lists hold only the events that
// host.id's lists do not hold under the same value (colbuild.go:
// appendPostings), and a value of agent.id is looked up in both fields'
// lists (search.go: indexPlan); in a batch of 300 PCs that halves the
// lists. A list-valued field has an entry per
// distinct string element, a scalar one entry for its string form
// (event.String), which is what store.Query.Match compares; a list-valued
// lachan.unit also gets its string form, which unit scoping compares. Index
// values are escaped so that they never contain NUL (\x00 → \x01\x01,
// \x01 → \x01\x02, order kept); values longer than 256 bytes are cut to 192
// bytes and followed by \x01\x03 and the hex SHA-256 digest of the whole
// value, so keys stay short and a lookup stays exact.
//
// # Searching
//
// In each partition a search walks, in every index generation whose time
// span meets the query's window, one key range per value of the most
// selective index the query names (a Terms field with an index, or a term, or an or of terms on
// one field, in the top-level conjunction of Query.Filter; else
// event.dataset, else lachan.unit), or else the primary range, within the From/To and cursor
// bounds, merging the ranges in (timestamp, ID) order. An index only narrows
// a search: every candidate is decoded and checked with Query.Match before it
// is returned, which is also what keeps unit scoping from leaking (the filter is
// compiled once per search). @timestamp ranges in the filter's top-level
// conjunction narrow the scanned window as From and To do. A query with a
// filter or a term on an unindexed field, whose plan would walk the primary
// range or a unit's or dataset's lists, reads the column blocks of the
// fields it names instead (columns.go, colquery.go, colsearch.go) and
// decodes only the events they do not rule out; aggregations count from
// the same blocks. A stored event is read from its row in its batch's
// blocks: one event by walking each column from the row its index names
// before it, many of one batch by decoding its columns once (a search
// keeps up to 256 batches, 48 MiB, it read, since the events it meets in
// key order come from a few of them, rows.go). The row is written out as
// the document earlier layouts stored, which
// is decoded as theirs are, by a hand-written decoder for the flat JSON
// the store writes, falling back on event.Event.UnmarshalJSON for anything
// else, so that an event reads back the same whichever way it was kept. An
// event whose batch's blocks are missing (only damage does that) is
// logged and not found; lachan store repair removes its keys. One event
// more than the limit is read to know whether a next page exists.
//
// # Writes
//
// PutEvents writes one Pebble batch per call (events, id/ entries if any,
// column blocks and index entries together, so a crash leaves all or none
// of them, added in key
// order because the memtable inserts sorted keys far more cheaply) and commits it
// with fsync when Config.Sync is set. A mutex serializes event writers so
// that the "already stored?" check and the write are one step; entity writes
// have their own mutex for their compare-and-set. Each event's fields are
// listed once, in name order, for its mapping check, its column values
// and its posting lists (a value a column cannot type is encoded as JSON
// there, so that an event that cannot be written fails before anything
// is), by looking up the names of a set
// met before where it can (layout.go), and a set's mapping is resolved
// once, not once per event; the memory of a batch's entries
// (scratch.go's arena, the lists and column builders) is kept under that
// mutex for the next batch, since Pebble copies what it is given.
package embedded
