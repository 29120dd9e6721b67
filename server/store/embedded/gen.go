package embedded

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"
)

// Index generations. A partition's index is cut into generations of at most
// about genEvents events each, in the order they were written, and a
// generation ends with the memtable its batches went into (memtable.go): the
// key of every posting list starts with its generation,
// t/<part>x<gen><field>\x00<value>…, so the lists of one memtable flush fall
// in the key range of the current generation instead of across the day's
// whole index. Compaction then merges each flush with the current generation
// alone rather than rewriting every list of the day, and flushed files that
// no longer overlap can wait in level 0 without being merged at all: on a
// million events of one day this took compaction reads from about 590 MB to
// 260 MB.
//
// Each generation has a record t/<part>y<gen> holding the smallest and
// greatest timestamp of its events and their count, written in the same
// batch as its lists, so that a search reads the generations its snapshot
// holds and skips those outside its time window. Records live under the
// partition's prefix, so retention's range deletion takes them too. They
// sort after the index ('y' > 'x'): a record before it would stretch the key
// range of every flushed file across the older generations' lists, and
// Pebble would merge each flush with them after all.
//
// With ingest roughly in time order a generation covers a stretch of time,
// and a host query over one hour of a busy day opens the lists of a few
// generations only.
const genEvents = 100_000

// genInfo is one generation's record.
type genInfo struct {
	n        uint32
	min, max int64 // smallest and greatest @timestamp, Unix nanoseconds
	count    uint64
	// epoch is the memtable the generation was begun in (memtables.epoch;
	// 0 for one read back from its record); not stored.
	epoch uint64
}

const genValueLen = 24

// genKey returns t/<part>y<gen>.
func genKey(p part, n uint32) []byte {
	return binary.BigEndian.AppendUint32(append(p.prefix(), prefixGen...), n)
}

// genPrefix returns t/<part>x<gen>, the start of every index key of one
// generation.
func genPrefix(p part, n uint32) []byte { return appendGenPrefix(nil, p, n) }

// appendGenPrefix appends genPrefix(p, n) to b.
func appendGenPrefix(b []byte, p part, n uint32) []byte {
	b = append(append(append(b, prefixPart...), p[:]...), prefixIndex...)
	return binary.BigEndian.AppendUint32(b, n)
}

func (g genInfo) value() []byte {
	b := make([]byte, 0, genValueLen)
	b = binary.BigEndian.AppendUint64(b, uint64(g.min))
	b = binary.BigEndian.AppendUint64(b, uint64(g.max))
	return binary.BigEndian.AppendUint64(b, g.count)
}

// decodeGen reads a generation record; k is its key, p its partition.
func decodeGen(p part, k, v []byte) (genInfo, error) {
	pre := len(prefixPart) + partLen + len(prefixGen)
	if len(k) != pre+4 || len(v) != genValueLen {
		return genInfo{}, fmt.Errorf("malformed generation record %q (%d bytes)", k, len(v))
	}
	return genInfo{
		n:     binary.BigEndian.Uint32(k[pre:]),
		min:   int64(binary.BigEndian.Uint64(v)),
		max:   int64(binary.BigEndian.Uint64(v[8:])),
		count: binary.BigEndian.Uint64(v[16:]),
	}, nil
}

// readGens returns the generation records of partition p in r, oldest
// first.
func readGens(r reader, p part) ([]genInfo, error) {
	pre := append(p.prefix(), prefixGen...)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: prefixEnd(pre)})
	if err != nil {
		return nil, err
	}
	var out []genInfo
	for ok := it.First(); ok; ok = it.Next() {
		g, err := decodeGen(p, it.Key(), it.Value())
		if err != nil {
			it.Close()
			return nil, err
		}
		out = append(out, g)
	}
	return out, it.Close()
}

// overlaps reports whether any of g's events can lie in [from, to) (zero
// times: unbounded).
func (g genInfo) overlaps(from, to time.Time) bool {
	if !from.IsZero() && from.After(minTime) && !from.After(maxTime) && g.max < from.UnixNano() {
		return false
	}
	if !to.IsZero() && to.After(minTime) && !to.After(maxTime) && g.min >= to.UnixNano() {
		return false
	}
	return true
}

// genTracker hands out the generation of each event a batch writes and
// gathers the records to write with it. The engine's view of each
// partition's current generation changes only when the batch has been
// committed (commit).
type genTracker struct {
	e *Engine
	// epoch is the memtable the batch goes into (memtables.epoch), or 0
	// when generations need not follow memtables.
	epoch   uint64
	touched map[part]*genInfo
	order   []part
	done    []kv // records of generations the batch filled up
}

// assign returns the generation event ts of partition p goes into.
func (t *genTracker) assign(p part, ts time.Time) (uint32, error) {
	g := t.touched[p]
	if g == nil {
		cur, err := t.e.currentGen(p)
		if err != nil {
			return 0, err
		}
		g = &cur
		if t.touched == nil {
			t.touched = map[part]*genInfo{}
		}
		t.touched[p] = g
		t.order = append(t.order, p)
	}
	ns := ts.UnixNano()
	switch {
	case g.count > 0 && t.epoch != 0 && g.epoch != t.epoch:
		// The generation's keys are in an older memtable (memtable.go);
		// its record, written with its last batch, is complete.
		*g = genInfo{n: g.n + 1, min: ns, max: ns, epoch: t.epoch}
	case g.count >= t.e.genSize:
		t.done = append(t.done, kv{k: genKey(p, g.n), v: g.value()})
		*g = genInfo{n: g.n + 1, min: ns, max: ns, epoch: t.epoch}
	case g.count == 0:
		g.min, g.max, g.epoch = ns, ns, t.epoch
	default:
		g.min, g.max = min(g.min, ns), max(g.max, ns)
	}
	g.count++
	return g.n, nil
}

// kvs returns the records of the generations the batch wrote to.
func (t *genTracker) kvs() []kv {
	out := append(make([]kv, 0, len(t.done)+len(t.order)), t.done...)
	for _, p := range t.order {
		g := t.touched[p]
		out = append(out, kv{k: genKey(p, g.n), v: g.value()})
	}
	return out
}

// commit makes the batch's generations the engine's current ones.
func (t *genTracker) commit() {
	for _, p := range t.order {
		t.e.gens[p] = *t.touched[p]
	}
}

// currentGen returns partition p's newest generation, from memory or, the
// first time, from its last record. The caller holds evMu.
func (e *Engine) currentGen(p part) (genInfo, error) {
	if g, ok := e.gens[p]; ok {
		return g, nil
	}
	pre := append(p.prefix(), prefixGen...)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: prefixEnd(pre)})
	if err != nil {
		return genInfo{}, err
	}
	var g genInfo
	if it.Last() {
		if g, err = decodeGen(p, it.Key(), it.Value()); err != nil {
			it.Close()
			return genInfo{}, err
		}
	}
	if err := it.Close(); err != nil {
		return genInfo{}, err
	}
	e.gens[p] = g
	return g, nil
}
