package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
	"lachan/server/store"
)

// PutEvents stores the events whose IDs are not stored yet, in one batch,
// and returns those, in input order. An invalid event fails the whole call
// before anything is written.
func (e *Engine) PutEvents(ctx context.Context, evs []event.Event) ([]event.Event, error) {
	return e.putEvents(ctx, evs, false)
}

// putEvents is PutEvents; replay also removes the events' dead-letter
// entries in the same batch.
func (e *Engine) putEvents(ctx context.Context, evs []event.Event, replay bool) ([]event.Event, error) {
	release, err := e.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	enc, err := encodeEvents(evs)
	if err != nil {
		return nil, fmt.Errorf("put events: %w", err)
	}
	defer enc.release()

	e.evMu.Lock()
	defer e.evMu.Unlock()
	// Entity writes deferred before this point become durable with this
	// call's commit, or with a sync of the log when it commits nothing;
	// when it fails, they are still owed.
	owed := e.deferred.Swap(false)
	defer func() {
		if owed {
			e.deferred.Store(true)
		}
	}()
	if len(evs) == 0 {
		if err := e.syncOwed(&owed); err != nil {
			return nil, fmt.Errorf("put events: %w", err)
		}
		return nil, nil
	}
	fresh := make([]event.Event, 0, len(evs))
	// The IDs met in this call: the map is kept for the next one.
	seen := e.seen
	if seen == nil {
		seen = make(map[string]bool, len(evs))
	}
	defer func() {
		clear(seen)
		if len(evs) <= seenKept {
			e.seen = seen
		} else {
			e.seen = nil
		}
	}()
	var newParts []part
	dead := 0
	bk := &e.batch
	defer bk.reset()
	gt := genTracker{e: e, epoch: e.mem.epoch()}
	stored, err := e.storedIDs(evs)
	if err != nil {
		return nil, fmt.Errorf("put events: look up IDs: %w", err)
	}
	for i, ev := range evs {
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		if replay {
			bk.kvs = append(bk.kvs, kv{k: deadKey(ev.ID), del: true})
		}
		if stored[ev.ID] {
			continue
		}
		if field, reason, ok := e.fits(ev, enc.fields[i], enc.layout[i]); !ok {
			// A dead letter keeps the event whole, as received.
			doc, err := ev.MarshalJSON()
			if err != nil {
				return nil, fmt.Errorf("put events: event %d (id %q): %w", i, ev.ID, err)
			}
			bk.addDead(ev, doc, field, reason, e.now())
			dead++
			continue
		}
		p := partOf(ev.Dataset, ev.Timestamp)
		if !e.parts.has(p) && !slices.Contains(newParts, p) {
			newParts = append(newParts, p)
			bk.kvs = append(bk.kvs, kv{k: p.metaKey(), v: partMeta})
		}
		gen, err := gt.assign(p, ev.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("put events: read index generation: %w", err)
		}
		bk.addEvent(p, gen, ev, enc.fields[i])
		fresh = append(fresh, ev)
	}
	bk.kvs = append(bk.kvs, gt.kvs()...)
	if bk.empty() {
		if err := e.syncOwed(&owed); err != nil {
			return nil, fmt.Errorf("put events: %w", err)
		}
		return fresh, nil
	}
	b, memBytes, err := bk.apply(e.db)
	if err != nil {
		return nil, fmt.Errorf("put events: %w", err)
	}
	defer b.Close()
	// The last moment a cancelled caller can still be told "nothing stored".
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := b.Commit(e.wo); err != nil {
		return nil, fmt.Errorf("put events: commit: %w", err)
	}
	owed = false
	gt.commit()
	if err := e.mem.wrote(e.db, memBytes); err != nil {
		// The events are stored; only the next generation may straddle
		// two memtables.
		e.log.Warn("store: start a memtable", "err", err)
	}
	for _, p := range newParts {
		e.parts.add(p)
	}
	if dead > 0 {
		e.log.Warn("store: events set aside in the dead-letter area", "count", dead)
	}
	return fresh, nil
}

// seenKept bounds the calls whose map of IDs met (Engine.seen) is kept
// for the next: a map keeps the room of its largest use.
const seenKept = 1 << 14

// encodeEvent checks an event and returns its stored form.
func encodeEvent(ev event.Event) ([]byte, error) {
	if err := checkEvent(ev); err != nil {
		return nil, err
	}
	return appendEventJSON(make([]byte, 0, 1024), ev)
}

// checkEvent checks what the store needs of an event: a valid one, whose
// time a sort key can hold.
func checkEvent(ev event.Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	return checkSortTime(ev)
}

// checkHead is checkEvent but for the fields' names and values, which a
// writer checks with the layout of their names (layout.checkValues):
// checkHead and checkValues together check all checkEvent does.
func checkHead(ev event.Event) error {
	if err := event.CheckID(ev.ID); err != nil {
		return err
	}
	// With no names given, ValidateFields checks what is not a field.
	if err := ev.ValidateFields(nil); err != nil {
		return err
	}
	return checkSortTime(ev)
}

// checkSortTime checks that a sort key can hold the event's time.
func checkSortTime(ev event.Event) error {
	if ev.Timestamp.Before(minTime) || ev.Timestamp.After(maxTime) {
		return &event.FieldError{Field: event.FieldTimestamp, Msg: fmt.Sprintf("%s is outside the years 1678-2262", ev.Timestamp)}
	}
	return nil
}

// batchKeys gathers the entries of one PutEvents call so that they reach
// the batch in key order: Pebble's memtable inserts a batch in its order and
// reuses the search path of the previous key, so sorted keys cost far less
// to insert than keys that jump between the ev/, id/ and ix/ ranges.
type batchKeys struct {
	// kvs holds what is neither an event's primary nor its id/ entry (dead
	// letters, partition and generation records); evs and ids hold those.
	kvs, evs, ids []kv
	// out is the batch in key order (apply); blocks the column blocks,
	// posts the posting lists.
	out, blocks, posts []kv
	// groups and rows gather the events of each partition and generation
	// for their column blocks (columns.go) and posting lists (posting.go);
	// cols builds them.
	groups []colGroup
	rows   [][]colRow
	cols   colSet
	// mem holds the keys and values the batch is given.
	mem arena
}

type colGroup struct {
	pt  part
	gen uint32
}

type kv struct {
	k, v []byte
	del  bool
}

// addEvent adds an event's primary entry, its id/ entry unless its ID
// finds it without one (timeKeyed), and its row of the column blocks and
// posting lists of its partition and generation; fields are its fields in
// name order (appendFields), or nil to have them listed here.
func (bk *batchKeys) addEvent(p part, gen uint32, ev event.Event, fields []field) {
	if fields == nil {
		fields = appendFields(nil, ev)
	}
	pk := bk.mem.make(len(prefixPart) + partLen + len(prefixEvent) + tsLen + len(ev.ID))
	pk = appendEventKey(pk, p, ev.Timestamp, ev.ID)
	tsid := pk[len(pk)-tsLen-len(ev.ID):]
	// The value, the event's locator (rows.go), is known once its block
	// is built (sorted).
	bk.evs = append(bk.evs, kv{k: pk})
	if !timeKeyed(ev.ID, ev.Timestamp) {
		idk := append(bk.mem.make(len(prefixID)+len(ev.ID)), prefixID...)
		bk.ids = append(bk.ids, kv{k: append(idk, ev.ID...), v: appendIDValue(bk.mem.make(idValueLen), p, tsid[:tsLen])})
	}
	bk.addRow(colGroup{p, gen}, colRow{tsid: tsid, ev: ev, fields: fields, slot: len(bk.evs) - 1})
}

// addRow adds an event to its group's column block.
func (bk *batchKeys) addRow(g colGroup, r colRow) {
	i := len(bk.groups) - 1
	for ; i >= 0 && bk.groups[i] != g; i-- {
	}
	if i < 0 {
		i = len(bk.groups)
		bk.groups = append(bk.groups, g)
		if i == len(bk.rows) {
			bk.rows = append(bk.rows, nil)
		}
	}
	bk.rows[i] = append(bk.rows[i], r)
}

// empty reports whether bk holds no entry.
func (bk *batchKeys) empty() bool { return len(bk.kvs) == 0 && len(bk.evs) == 0 }

// apply sorts the entries and sets them in a new batch of db, which the
// caller closes, and returns about how many bytes of a memtable the batch
// takes. The batch is made at its full size: a batch of a thousand wide
// events is over a megabyte, which Pebble neither keeps for the next batch
// nor reaches without growing its buffer a dozen times, copying it each
// time.
func (bk *batchKeys) apply(db *pebble.DB) (*pebble.Batch, int64, error) {
	kvs, err := bk.sorted()
	if err != nil {
		return nil, 0, err
	}
	// A record is a kind byte and the lengths of its key and value as
	// uvarints, then the key and the value; the batch's header is 12 bytes.
	size, mem := 12, int64(0)
	for _, e := range kvs {
		size += 1 + 2*binary.MaxVarintLen32 + len(e.k) + len(e.v)
		mem += int64(len(e.k) + len(e.v) + memEntryOverhead)
	}
	b := db.NewBatchWithSize(size)
	for _, e := range kvs {
		var err error
		if e.del {
			err = b.Delete(e.k, nil)
		} else {
			err = b.Set(e.k, e.v, nil)
		}
		if err != nil {
			b.Close()
			return nil, 0, err
		}
	}
	return b, mem, nil
}

// sorted returns every entry of the batch, the posting lists and column
// blocks made, in key order; the events' values are their locators in
// the blocks. Sorting a batch's thousands of keys whole cost more than
// building them, so each run is put in order on its own (the events and
// their IDs mostly come in order already) and the runs are laid end to
// end in the order of their prefixes: dl/, id/, meta/, then each
// partition's events, column blocks, posting lists and generation
// records. With one partition that is key order; anything else is sorted
// whole.
func (bk *batchKeys) sorted() ([]kv, error) {
	blocks, posts := bk.blocks[:0], bk.posts[:0]
	for i, g := range bk.groups {
		var err error
		rows := bk.rows[i]
		if blocks, posts, err = bk.cols.appendBlocks(blocks, posts, g.pt, g.gen, rows, &bk.mem); err != nil {
			return nil, err
		}
		// appendBlocks put the rows in the order of the block.
		max := rows[len(rows)-1].tsid
		for j, r := range rows {
			bk.evs[r.slot].v = appendLocator(bk.mem.make(locatorLen(max)), j, g.gen, max)
		}
	}
	bk.blocks = blocks
	sortRun(bk.kvs, true)
	sortRun(bk.ids, false)
	sortRun(bk.evs, false)
	lo, _ := slices.BinarySearchFunc(bk.kvs, []byte(prefixID), func(x kv, k []byte) int { return bytes.Compare(x.k, k) })
	hi, _ := slices.BinarySearchFunc(bk.kvs, []byte(prefixPart), func(x kv, k []byte) int { return bytes.Compare(x.k, k) })
	out := append(bk.out[:0], bk.kvs[:lo]...)
	out = append(out, bk.ids...)
	out = append(out, bk.kvs[lo:hi]...)
	out = append(out, bk.evs...)
	out = append(out, blocks...)
	// In order unless the groups were not, or a long value was cut.
	sortRun(posts, false)
	bk.posts = posts
	out = append(out, posts...)
	out = append(out, bk.kvs[hi:]...)
	sortRun(out, true)
	bk.out = out
	return out, nil
}

// sortRun sorts entries by key unless they are in order already. A run
// that may hold one key twice (a replayed dead letter's deletion, then its
// entry again) is sorted stable, as Pebble applies the last; the events,
// their IDs and the lists have a key each, and the faster sort.
func sortRun(kvs []kv, stable bool) {
	byKey := func(x, y kv) int { return bytes.Compare(x.k, y.k) }
	switch {
	case slices.IsSortedFunc(kvs, byKey):
	case stable:
		slices.SortStableFunc(kvs, byKey)
	default:
		slices.SortFunc(kvs, byKey)
	}
}

// reset empties bk for the next batch, keeping its memory but no
// reference to the events it held.
func (bk *batchKeys) reset() {
	for _, s := range []*[]kv{&bk.kvs, &bk.evs, &bk.ids, &bk.out, &bk.blocks, &bk.posts} {
		clear(*s)
		*s = (*s)[:0]
	}
	for i := range bk.groups {
		clear(bk.rows[i])
		bk.rows[i] = bk.rows[i][:0]
	}
	bk.groups = bk.groups[:0]
	bk.mem.reset()
}

// storedIDs returns which of the events' IDs are stored already, in one
// of three ways. An event whose ID leads with its own millisecond
// (timeKeyed) has no id/ entry: it is stored when its primary key is. IDs
// made where events are born start with their time (wayOf), so a
// batch's primary keys, and its id/ keys of IDs that lead with a time not
// quite the event's own (a Windows record's second), lie close together:
// one iterator sought through them in order reuses its position and
// loaded blocks. IDs that are all hash fall anywhere; once the store
// outgrows its block cache, a seek for each would read and decompress a
// table block for nearly every ID. Each of those is looked up on its own
// instead, and the tables' bloom filters answer most lookups of an ID not
// stored (most of them) from memory. Every way finds exactly the keys
// stored; the choice is only a matter of speed.
func (e *Engine) storedIDs(evs []event.Event) (map[string]bool, error) {
	size := 0
	for _, ev := range evs {
		size += len(prefixPart) + partLen + len(prefixEvent) + tsLen + len(ev.ID)
	}
	// One buffer for all the keys, rather than an allocation each, kept
	// for the next call (storedIDs runs under evMu).
	buf := slices.Grow(e.idScratch.buf[:0], size)
	seeks := slices.Grow(e.idScratch.seeks[:0], len(evs))
	defer func() {
		clear(seeks)
		if size <= idScratchKept {
			e.idScratch.buf, e.idScratch.seeks = buf[:0], seeks[:0]
		} else {
			e.idScratch = idScratch{}
		}
	}()
	out := map[string]bool{}
	for _, ev := range evs {
		start := len(buf)
		way := wayOf(ev.ID, ev.Timestamp)
		if way == byPrimary {
			buf = appendEventKey(buf, partOf(ev.Dataset, ev.Timestamp), ev.Timestamp, ev.ID)
		} else {
			buf = append(append(buf, prefixID...), ev.ID...)
		}
		k := buf[start:len(buf):len(buf)]
		if way != byGet {
			seeks = append(seeks, sought{k, ev.ID})
			continue
		}
		_, closer, err := e.db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		closer.Close()
		out[ev.ID] = true
	}
	if len(seeks) == 0 {
		return out, nil
	}
	slices.SortFunc(seeks, func(a, b sought) int { return bytes.Compare(a.k, b.k) })
	// id/ sorts before meta/ and t/: one range holds every key sought.
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixID), UpperBound: prefixEnd([]byte(prefixPart))})
	if err != nil {
		return nil, err
	}
	for _, s := range seeks {
		if it.SeekGE(s.k) && bytes.Equal(it.Key(), s.k) {
			out[s.id] = true
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return nil, err
	}
	return out, it.Close()
}

// idScratch is storedIDs' memory, kept from one call to the next.
type idScratch struct {
	buf   []byte
	seeks []sought
}

// sought is a key storedIDs seeks, and the ID it stands for.
type sought struct {
	k  []byte
	id string
}

// idScratchKept bounds the keys' bytes whose memory storedIDs keeps.
const idScratchKept = 4 << 20

// timedIDWindow is how far from an event's time the time leading its ID
// may be for wayOf to take the ID as made from it. An ID that is all hash
// passes by chance about once in a million.
const timedIDWindow = 48 * time.Hour

// reader is what GetEvents and SearchEvents read from: a snapshot, so that
// an index entry and the event it points to are seen at the same moment.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// GetEvents returns the stored events with these IDs, in the given order.
func (e *Engine) GetEvents(ctx context.Context, ids []string) ([]event.Event, error) {
	release, err := e.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	snap := e.db.NewSnapshot()
	defer snap.Close()
	byTime, err := e.newTimeLookup(snap)
	if err != nil {
		return nil, fmt.Errorf("get events: %w", err)
	}
	defer byTime.close()
	out := make([]event.Event, 0, len(ids))
	for i, id := range ids {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		ev, ok, err := e.getByID(snap, byTime, id)
		if err != nil {
			return nil, fmt.Errorf("get event %s: %w", id, err)
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// getByID reads the event of ID id from r, through its id/ entry or from
// the millisecond its ID leads with (timeLookup). An ID that leads with a
// whole second is more likely a Windows record's, which leads with the
// second of a time that has a fraction and so has an id/ entry: that is
// tried first. Any other ID that leads with a time is more likely found
// from it. Each way is tried if the other finds nothing.
func (e *Engine) getByID(r reader, byTime *timeLookup, id string) (event.Event, bool, error) {
	t, timed := event.TimedIDTime(id)
	entryFirst := timed && t.UnixMilli()%1000 == 0
	if entryFirst {
		if ev, ok, err := e.getByEntry(r, byTime.rows, id); ok || err != nil {
			return ev, ok, err
		}
	}
	if timed {
		if ev, ok, err := byTime.get(id, t); ok || err != nil || entryFirst {
			return ev, ok, err
		}
	}
	return e.getByEntry(r, byTime.rows, id)
}

// getByEntry reads from r the event whose id/ entry id has, if it has one.
func (e *Engine) getByEntry(r reader, rows *rowReader, id string) (event.Event, bool, error) {
	v, ok, err := getCopy(r, idKey(id))
	if err != nil || !ok {
		return event.Event{}, false, err
	}
	ev, ok, err := readEvent(r, rows, idValueKey(v, id))
	if err == nil && !ok {
		e.log.Warn("store: id entry without its event", "id", id)
	}
	return ev, ok, err
}

// timeLookup finds the events whose IDs lead with their own millisecond
// (timeKeyed), which have no id/ entry: the ID names the millisecond, so
// the event is among the primary keys of that millisecond in the
// partitions of its day, one for each data kind.
type timeLookup struct {
	it    *pebble.Iterator
	parts *partSet
	rows  *rowReader
	lo    []byte
	hi    []byte
}

func (e *Engine) newTimeLookup(r reader) (*timeLookup, error) {
	p := []byte(prefixPart)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	return &timeLookup{it: it, parts: &e.parts, rows: newRowReader(r, e.log)}, nil
}

// get returns the event of ID id, which leads with the time t
// (event.TimedIDTime), that timeKeyed holds for, if one is stored; when
// several kinds hold one, the first in store.DataKinds.
func (tl *timeLookup) get(id string, t time.Time) (event.Event, bool, error) {
	if t.Before(minTime) || !t.Add(time.Millisecond).Before(maxTime) {
		return event.Event{}, false, nil
	}
	for _, kind := range store.DataKinds {
		p := makePart(kindByte(kind), dayOf(t))
		if !tl.parts.has(p) {
			continue
		}
		tl.lo = appendEventKey(tl.lo[:0], p, t, "")
		tl.hi = appendEventKey(tl.hi[:0], p, t.Add(time.Millisecond), "")
		n := len(tl.lo)
		for ok := tl.it.SeekGE(tl.lo); ok && bytes.Compare(tl.it.Key(), tl.hi) < 0; ok = tl.it.Next() {
			k := tl.it.Key()
			if len(k) != n+len(id) || string(k[n:]) != id {
				continue
			}
			return tl.rows.event(p, k[n-tsLen:], tl.it.Value())
		}
		if err := tl.it.Error(); err != nil {
			return event.Event{}, false, err
		}
	}
	return event.Event{}, false, nil
}

func (tl *timeLookup) close() error { return tl.it.Close() }

// getCopy returns a copy of key's value, or false when it is absent.
func getCopy(r reader, key []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	return out, true, closer.Close()
}

// readEvent reads and decodes the event under primary key pk, its row
// through rows.
func readEvent(r reader, rows *rowReader, pk []byte) (event.Event, bool, error) {
	v, closer, err := r.Get(pk)
	if errors.Is(err, pebble.ErrNotFound) {
		return event.Event{}, false, nil
	}
	if err != nil {
		return event.Event{}, false, err
	}
	defer closer.Close()
	var tsid []byte
	if n := len(prefixPart) + partLen + len(prefixEvent); len(pk) >= n+tsLen {
		tsid = pk[n:]
	}
	if tsid == nil || !bytes.HasPrefix(pk, []byte(prefixPart)) {
		ev, err := decodeEvent(tsid, v)
		return ev, err == nil, err
	}
	return rows.event(part(pk[len(prefixPart):len(prefixPart)+partLen]), tsid, v)
}

// decodeEvent decodes a stored event whose sort key is tsid (nil: the
// document holds its own @timestamp and event.id); the result does not
// refer to doc.
func decodeEvent(tsid, doc []byte) (event.Event, error) {
	key := tsid
	doc = fullDoc(tsid, doc)
	if ev, ok := decodeFast(doc); ok {
		return ev, nil
	}
	var ev event.Event
	if err := ev.UnmarshalJSON(doc); err != nil {
		return event.Event{}, fmt.Errorf("decode stored event %q: %w", key, err)
	}
	return ev, nil
}
