package embedded

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/server/store"
)

// DropBefore removes the partitions of kind whose whole day lies before
// cutoff: retention works in whole UTC days, so an event goes at the first
// call after the end of its day has passed the cutoff. Each partition goes
// in one batch: the id/ entries of its events that have one (timeKeyed), a
// range deletion over t/<part> (events and index entries together) and its
// meta key, so a crash leaves it whole or gone. Pebble then drops the files
// the range deletion covers without rewriting them.
func (e *Engine) DropBefore(ctx context.Context, kind string, cutoff time.Time) (int64, error) {
	if !slices.Contains(store.DataKinds, kind) {
		return 0, fmt.Errorf("drop before: unknown data kind %q (want one of %v)", kind, store.DataKinds)
	}
	release, err := e.acquire()
	if err != nil {
		return 0, err
	}
	defer release()
	var dropped int64
	for _, p := range e.parts.ofKind(kindByte(kind)) {
		if p.end().After(cutoff) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return dropped, err
		}
		n, err := e.dropPart(p)
		dropped += n
		if err != nil {
			return dropped, fmt.Errorf("drop partition %s of %s: %w", p.start().Format(time.DateOnly), kind, err)
		}
		e.log.Info("store: partition dropped", "kind", kind, "day", p.start().Format(time.DateOnly), "events", n)
	}
	return dropped, nil
}

func (e *Engine) dropPart(p part) (int64, error) {
	// Writers of this partition wait, so that no event lands in it between
	// the id/ sweep and the range deletion.
	e.evMu.Lock()
	defer e.evMu.Unlock()
	b := e.db.NewBatch()
	defer b.Close()
	// A partition made in layout 6 or later wrote no id/ entry for an
	// event its ID finds (timeKeyed); one made before may have written
	// one for every event.
	meta, _, err := getCopy(e.db, p.metaKey())
	if err != nil {
		return 0, err
	}
	keyed := bytes.Equal(meta, partMeta)
	evp := append(p.prefix(), prefixEvent...)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: evp, UpperBound: prefixEnd(evp)})
	if err != nil {
		return 0, err
	}
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		n++
		tsid := it.Key()[len(evp):]
		id := string(tsid[tsLen:])
		if ts, _ := decodeTS(tsid); keyed && timeKeyed(id, ts) {
			continue
		}
		if err := b.Delete(idKey(id), nil); err != nil {
			it.Close()
			return 0, err
		}
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	pp := p.prefix()
	if err := b.DeleteRange(pp, prefixEnd(pp), nil); err != nil {
		return 0, err
	}
	if err := b.Delete(p.metaKey(), nil); err != nil {
		return 0, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, err
	}
	e.parts.remove(p)
	delete(e.gens, p)
	return n, nil
}
