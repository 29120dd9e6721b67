package embedded

import (
	"fmt"

	"github.com/cockroachdb/pebble"
)

// Key namespaces of layout 1, which kept one event range for all time.
const (
	v1Event = "ev/"
	v1Index = "ix/"
)

// migrateV1 rewrites a layout-1 directory into time partitions. It is
// idempotent: the old ranges are removed, and the layout marked 2, only in
// the last batch, so a crash part-way leaves a directory that migrates again
// from the start on the next open.
func (e *Engine) migrateV1() error {
	e.log.Info("store: moving the data directory onto time partitions (layout 1 → 2)")
	lo := []byte(v1Event)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return fmt.Errorf("migrate layout 1: %w", err)
	}
	defer it.Close()
	n := 0
	bk := batchKeys{}
	flush := func() error {
		b := e.db.NewBatch()
		defer b.Close()
		if err := bk.apply(b); err != nil {
			return err
		}
		bk.kvs = bk.kvs[:0]
		return b.Commit(pebble.Sync)
	}
	for ok := it.First(); ok; ok = it.Next() {
		ev, err := decodeEvent(it.Key(), it.Value())
		if err != nil {
			return fmt.Errorf("migrate layout 1: %w", err)
		}
		p := partOf(ev.Dataset, ev.Timestamp)
		if !e.parts.has(p) {
			e.parts.add(p)
			bk.kvs = append(bk.kvs, kv{k: p.metaKey()})
		}
		bk.addEvent(p, ev, append([]byte(nil), it.Value()...))
		if n++; n%1000 == 0 {
			if err := flush(); err != nil {
				return fmt.Errorf("migrate layout 1: %w", err)
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("migrate layout 1: %w", err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("migrate layout 1: %w", err)
	}
	b := e.db.NewBatch()
	defer b.Close()
	for _, p := range []string{v1Event, v1Index} {
		if err := b.DeleteRange([]byte(p), prefixEnd([]byte(p)), nil); err != nil {
			return fmt.Errorf("migrate layout 1: %w", err)
		}
	}
	if err := b.Set([]byte(keyLayout), []byte(layoutV2), nil); err != nil {
		return fmt.Errorf("migrate layout 1: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("migrate layout 1: %w", err)
	}
	e.log.Info("store: layout 2 in place", "events", n)
	return nil
}
