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

// migrateV1 rewrites a layout-1 directory into time partitions with index
// generations (the current layout). It is idempotent: the old ranges are
// removed, and the layout marked current, only in the last batch, so a
// crash part-way leaves a directory that migrates again from the start on
// the next open.
func (e *Engine) migrateV1() error {
	e.log.Info("store: moving the data directory onto time partitions (layout 1 → " + layoutCurrent + ")")
	lo := []byte(v1Event)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return fmt.Errorf("migrate layout 1: %w", err)
	}
	defer it.Close()
	n := 0
	bk := batchKeys{}
	gt := genTracker{e: e}
	flush := func() error {
		bk.kvs = append(bk.kvs, gt.kvs()...)
		b, _, err := bk.apply(e.db)
		if err != nil {
			return err
		}
		defer b.Close()
		bk.reset()
		if err := b.Commit(pebble.Sync); err != nil {
			return err
		}
		gt.commit()
		gt = genTracker{e: e}
		return nil
	}
	for ok := it.First(); ok; ok = it.Next() {
		ev, err := decodeEvent(nil, it.Value())
		if err != nil {
			return fmt.Errorf("migrate layout 1: %w", err)
		}
		p := partOf(ev.Dataset, ev.Timestamp)
		if !e.parts.has(p) {
			e.parts.add(p)
			bk.kvs = append(bk.kvs, kv{k: p.metaKey(), v: partMeta})
		}
		gen, err := gt.assign(p, ev.Timestamp)
		if err != nil {
			return fmt.Errorf("migrate layout 1: %w", err)
		}
		bk.addEvent(p, gen, ev, nil)
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
	if err := b.Set([]byte(keyLayout), []byte(layoutCurrent), nil); err != nil {
		return fmt.Errorf("migrate layout 1: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("migrate layout 1: %w", err)
	}
	e.log.Info("store: layout "+layoutCurrent+" in place", "events", n)
	return nil
}

// migrateV2 moves the posting lists of a layout-2 directory, keyed
// t/<part>x<field>\x00…, into generation 0 of their partition,
// t/<part>x<0000><field>\x00…, and gives each partition a generation record
// spanning its day whose count is full, so that new writes start generation
// 1. Field names never start with a NUL byte while generation 0 does, so
// the old keys are exactly those from t/<part>x\x01 on. Like migrateV1 it
// can be cut by a crash anywhere: the old keys go, and the layout becomes
// current, in the last batch, and a rerun writes the same new keys again.
func (e *Engine) migrateV2() error {
	e.log.Info("store: cutting the indexes into generations (layout 2 → " + layoutCurrent + ")")
	const chunk = 4096
	var kvs []kv
	flush := func() error {
		if len(kvs) == 0 {
			return nil
		}
		b := e.db.NewBatch()
		defer b.Close()
		for _, x := range kvs {
			if err := b.Set(x.k, x.v, nil); err != nil {
				return err
			}
		}
		kvs = kvs[:0]
		return b.Commit(pebble.NoSync)
	}
	lists := 0
	for _, p := range e.parts.all() {
		old := append(p.prefix(), prefixIndex...)
		lo, hi := append(append([]byte(nil), old...), 1), prefixEnd(old)
		it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return fmt.Errorf("migrate layout 2: %w", err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := append(genPrefix(p, 0), it.Key()[len(old):]...)
			kvs = append(kvs, kv{k: k, v: append([]byte(nil), it.Value()...)})
			if lists++; len(kvs) == chunk {
				if err := flush(); err != nil {
					it.Close()
					return fmt.Errorf("migrate layout 2: %w", err)
				}
			}
		}
		if err := it.Close(); err != nil {
			return fmt.Errorf("migrate layout 2: %w", err)
		}
		g := genInfo{n: 0, min: p.start().UnixNano(), max: p.end().UnixNano() - 1, count: genEvents}
		kvs = append(kvs, kv{k: genKey(p, 0), v: g.value()})
	}
	if err := flush(); err != nil {
		return fmt.Errorf("migrate layout 2: %w", err)
	}
	// The batches above were not synced, but the log keeps batches in
	// order: once this synced one (removing the old keys) is durable, so
	// are they.
	b := e.db.NewBatch()
	defer b.Close()
	for _, p := range e.parts.all() {
		old := append(p.prefix(), prefixIndex...)
		if err := b.DeleteRange(append(append([]byte(nil), old...), 1), prefixEnd(old), nil); err != nil {
			return fmt.Errorf("migrate layout 2: %w", err)
		}
	}
	if err := b.Set([]byte(keyLayout), []byte(layoutCurrent), nil); err != nil {
		return fmt.Errorf("migrate layout 2: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("migrate layout 2: %w", err)
	}
	e.log.Info("store: layout "+layoutCurrent+" in place", "posting_lists", lists)
	return nil
}
