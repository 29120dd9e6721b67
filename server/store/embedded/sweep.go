package embedded

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"

	"lachan/internal/logging"
)

// DamageRows is the kind of what Repair does after the files: it removes
// the keys of events whose rows a damaged file lost, and puts back the id/
// entries a damaged file lost of events it kept.
const DamageRows = "rows"

// swept is what sweepRows did.
type swept struct {
	// lost events (their keys removed), the first and last of their
	// primary keys.
	lost        int
	first, last []byte
	// restored id/ entries.
	restored int
}

// sweepRows goes over every event of the store in dir (whose lock the
// caller holds) once its damaged files are repaired. An event whose row
// cannot be read is lost: since layout 7 an event lives in its batch's
// column blocks, which a damaged table may lose while the event's key
// survives elsewhere, so its primary key and id/ entry are removed. An
// event that is read but whose id/ entry is gone (the entry was in the
// damaged part) gets it back, so that GetEvents and de-duplication find it.
func sweepRows(dir string, lock *pebble.Lock) (out swept, err error) {
	cfg := DefaultConfig()
	cfg.Dir = dir
	cache := pebble.NewCache(cfg.cacheSize())
	defer cache.Unref()
	db, err := pebble.Open(dir, pebbleOptions(cfg, logging.Discard(), lock, cache))
	if err != nil {
		return out, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixPart), UpperBound: prefixEnd([]byte(prefixPart))})
	if err != nil {
		return out, err
	}
	b := db.NewBatch()
	defer b.Close()
	if err := sweepEvents(db, it, b, &out); err != nil {
		return out, errors.Join(err, it.Close())
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return out, err
	}
	if b.Empty() {
		return out, nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return swept{}, fmt.Errorf("commit: %w", err)
	}
	return out, nil
}

// sweepEvents is sweepRows' walk of the primary keys it, writing into b.
func sweepEvents(db *pebble.DB, it *pebble.Iterator, b *pebble.Batch, out *swept) error {
	rows := newRowReader(db, nil)
	off := len(prefixPart) + partLen
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) <= off+tsLen || k[off] != prefixEvent[0] {
			continue
		}
		p, tsid := part(k[len(prefixPart):off]), k[off+1:]
		id := string(tsid[tsLen:])
		ts, _ := decodeTS(tsid)
		idv, hasEntry, err := getCopy(db, idKey(id))
		if err != nil {
			return err
		}
		ownEntry := hasEntry && bytes.Equal(idValueKey(idv, id), k)
		readable := true
		if isLocator(v) {
			// Missing blocks read as not found, malformed ones as an
			// error: either way the row is lost.
			_, found, err := rows.event(p, tsid, v)
			readable = err == nil && found
		}
		switch {
		case !readable:
			if err := b.Delete(k, nil); err != nil {
				return err
			}
			if ownEntry {
				if err := b.Delete(idKey(id), nil); err != nil {
					return err
				}
			}
			if out.first == nil {
				out.first = bytes.Clone(k)
			}
			out.last = bytes.Clone(k)
			out.lost++
		case !hasEntry && !timeKeyed(id, ts):
			if err := b.Set(idKey(id), appendIDValue(nil, p, tsid[:tsLen]), nil); err != nil {
				return err
			}
			out.restored++
		}
	}
	return nil
}
