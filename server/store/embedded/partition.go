package embedded

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	"lachan/server/store"
)

// part names a time partition: a data kind (one byte) and a UTC day (a
// big-endian uint32 of days since the Unix epoch with its sign bit flipped,
// so that byte order is day order). Everything of one partition lives under
// t/<part>, which is what lets retention drop a whole day of one kind with
// a single range deletion.
type part [partLen]byte

const partLen = 5

const dayNanos = int64(24 * time.Hour)

// kindByte maps a data kind onto its key byte.
func kindByte(kind string) byte {
	switch kind {
	case store.DataAlert:
		return 'a'
	case store.DataNetwork:
		return 'n'
	default:
		return 'e'
	}
}

// dayOf returns the UTC day t falls on, counted from the Unix epoch.
func dayOf(t time.Time) int64 {
	ns := t.UnixNano()
	d := ns / dayNanos
	if ns%dayNanos < 0 {
		d--
	}
	return d
}

func makePart(kind byte, day int64) part {
	var p part
	p[0] = kind
	binary.BigEndian.PutUint32(p[1:], uint32(int32(day))^(1<<31))
	return p
}

// partOf returns the partition an event of dataset at t belongs to.
func partOf(dataset string, t time.Time) part {
	return makePart(kindByte(store.DataKindOf(dataset)), dayOf(t))
}

func (p part) kind() byte { return p[0] }

func (p part) day() int64 { return int64(int32(binary.BigEndian.Uint32(p[1:]) ^ (1 << 31))) }

// start and end bound the partition's day: [start, end).
func (p part) start() time.Time { return time.Unix(0, p.day()*dayNanos).UTC() }
func (p part) end() time.Time   { return time.Unix(0, (p.day()+1)*dayNanos).UTC() }

// prefix returns t/<part>.
func (p part) prefix() []byte {
	return append(append(make([]byte, 0, len(prefixPart)+partLen+1), prefixPart...), p[:]...)
}

// metaKey returns meta/part/<part>, which records that the partition exists.
func (p part) metaKey() []byte { return append([]byte(prefixPartMeta), p[:]...) }

// partMeta is the meta/part/ value of a partition this build makes: the
// first layout in which its events are written without an id/ entry when
// their ID leads with their millisecond. Partitions made before layout 6
// have an empty value, and every event of theirs may have an id/ entry.
// Layout 7 changed the events' values, not their id/ entries, so its
// partitions take the same value.
var partMeta = []byte(layoutV6)

// partSet is the in-memory list of the partitions that hold data, kept
// sorted by (day, kind). It is loaded at open from meta/part/ keys.
type partSet struct {
	mu    sync.RWMutex
	parts []part
}

func comparePart(a, b part) int {
	if c := bytes.Compare(a[1:], b[1:]); c != 0 {
		return c
	}
	return int(a[0]) - int(b[0])
}

func (s *partSet) has(p part) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := slices.BinarySearchFunc(s.parts, p, comparePart)
	return ok
}

func (s *partSet) add(p part) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := slices.BinarySearchFunc(s.parts, p, comparePart); !ok {
		s.parts = slices.Insert(s.parts, i, p)
	}
}

func (s *partSet) remove(p part) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := slices.BinarySearchFunc(s.parts, p, comparePart); ok {
		s.parts = slices.Delete(s.parts, i, i+1)
	}
}

// days returns the partitions a query can reach, grouped by day, days in
// the query's order (newest first unless q.Asc). kinds limits the kinds
// (nil: all).
func (s *partSet) days(q store.Query, kinds []byte) [][]part {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out [][]part
	for _, p := range s.parts {
		if kinds != nil && !slices.Contains(kinds, p.kind()) {
			continue
		}
		if !q.From.IsZero() && !p.end().After(q.From) || !q.To.IsZero() && !p.start().Before(q.To) {
			continue
		}
		if n := len(out); n > 0 && out[n-1][0].day() == p.day() {
			out[n-1] = append(out[n-1], p)
			continue
		}
		out = append(out, []part{p})
	}
	if !q.Asc {
		slices.Reverse(out)
	}
	return out
}

// kindsOf returns the kinds holding the query's datasets, or nil for all.
func kindsOf(datasets []string) []byte {
	if len(datasets) == 0 {
		return nil
	}
	var ks []byte
	for _, d := range datasets {
		if k := kindByte(store.DataKindOf(d)); !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// all returns every partition.
func (s *partSet) all() []part {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.parts)
}

func (s *partSet) ofKind(kind byte) []part {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []part
	for _, p := range s.parts {
		if p.kind() == kind {
			out = append(out, p)
		}
	}
	return out
}
