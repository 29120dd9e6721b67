package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// A run of sort keys (<ts><id>), ascending, as posting lists and column
// blocks store them: the first key whole (8-byte timestamp, id length, id),
// each later one as its timestamp's increase over the previous one, the
// number of leading id bytes it shares with the previous id, and the rest
// of its id (all uvarints but the first timestamp and the id bytes). Keys
// of one batch lie close in time and their ids share most of their bytes,
// so a key takes about 6 bytes instead of 20.

var errBadKeys = errors.New("malformed sort keys")

// appendSortKeys appends keys, which must be ascending and distinct.
func appendSortKeys(b []byte, keys [][]byte) []byte {
	var prev []byte
	for i, k := range keys {
		id := k[tsLen:]
		if i == 0 {
			b = append(b, k[:tsLen]...)
			b = binary.AppendUvarint(b, uint64(len(id)))
			b = append(b, id...)
			prev = k
			continue
		}
		pid := prev[tsLen:]
		shared := 0
		for shared < len(id) && shared < len(pid) && id[shared] == pid[shared] {
			shared++
		}
		b = binary.AppendUvarint(b, binary.BigEndian.Uint64(k)-binary.BigEndian.Uint64(prev))
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(id)-shared))
		b = append(b, id[shared:]...)
		prev = k
	}
	return b
}

// keyRun reads a run of sort keys one at a time into one buffer, without
// allocating: the key it returns is valid until the next call.
type keyRun struct {
	r   *colReader
	n   int
	i   int
	buf []byte
}

// next returns the next key, or an error when the run is malformed; it
// must not be called more than n times.
func (kr *keyRun) next() ([]byte, error) {
	r := kr.r
	if kr.i == 0 {
		t := r.bytes(tsLen)
		id := r.bytes(r.count(len(r.b)))
		if !r.ok {
			return nil, errBadKeys
		}
		kr.buf = append(append(kr.buf[:0], t...), id...)
		kr.i++
		return kr.buf, nil
	}
	delta := r.uvarint()
	shared := r.count(len(kr.buf) - tsLen)
	rest := r.bytes(r.count(len(r.b)))
	if !r.ok {
		return nil, errBadKeys
	}
	prevTS := binary.BigEndian.Uint64(kr.buf)
	ts := prevTS + delta
	if ts < prevTS {
		return nil, errBadKeys
	}
	// Same time: the new id must come after the previous one, and the
	// two share their first shared bytes.
	if delta == 0 && bytes.Compare(rest, kr.buf[tsLen+shared:]) <= 0 {
		return nil, errBadKeys
	}
	binary.BigEndian.PutUint64(kr.buf, ts)
	kr.buf = append(kr.buf[:tsLen+shared], rest...)
	kr.i++
	return kr.buf, nil
}

// readSortKeys reads n keys written by appendSortKeys. The keys share one
// new buffer (they do not point into r's bytes) and are checked to ascend.
func readSortKeys(r *colReader, n int) ([][]byte, error) {
	if n > len(r.b) {
		return nil, errBadKeys
	}
	keys := make([][]byte, 0, n)
	kr := keyRun{r: r, n: n}
	var arena []byte
	for range n {
		k, err := kr.next()
		if err != nil {
			return nil, err
		}
		if cap(arena)-len(arena) < len(k) {
			arena = make([]byte, 0, max(len(k), 24*(n-len(keys))))
		}
		arena = append(arena, k...)
		keys = append(keys, arena[len(arena)-len(k):len(arena):len(arena)])
	}
	return keys, nil
}
