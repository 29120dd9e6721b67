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

// readSortKeys reads n keys written by appendSortKeys. The keys share one
// new buffer (they do not point into r's bytes) and are checked to ascend.
func readSortKeys(r *colReader, n int) ([][]byte, error) {
	if n > len(r.b) {
		return nil, errBadKeys
	}
	keys := make([][]byte, 0, n)
	// The keys are rebuilt into one arena, which grows as needed: a key
	// is at most its encoded size plus its predecessor's.
	arena := make([]byte, 0, 24*n)
	var prev []byte
	for i := 0; i < n && r.ok; i++ {
		var ts uint64
		var shared int
		var rest []byte
		if i == 0 {
			t := r.bytes(tsLen)
			if !r.ok {
				break
			}
			ts = binary.BigEndian.Uint64(t)
			rest = r.bytes(r.count(len(r.b)))
		} else {
			delta := r.uvarint()
			shared = r.count(len(prev) - tsLen)
			rest = r.bytes(r.count(len(r.b)))
			ts = binary.BigEndian.Uint64(prev) + delta
			if ts < binary.BigEndian.Uint64(prev) {
				return nil, errBadKeys
			}
		}
		if !r.ok {
			break
		}
		size := tsLen + shared + len(rest)
		if cap(arena)-len(arena) < size {
			arena = make([]byte, 0, max(size, 24*(n-i)))
		}
		start := len(arena)
		arena = binary.BigEndian.AppendUint64(arena, ts)
		if shared > 0 {
			arena = append(arena, prev[tsLen:tsLen+shared]...)
		}
		arena = append(arena, rest...)
		k := arena[start:len(arena):len(arena)]
		if i > 0 && bytes.Compare(k, prev) <= 0 {
			return nil, errBadKeys
		}
		keys = append(keys, k)
		prev = k
	}
	if !r.ok {
		return nil, errBadKeys
	}
	return keys, nil
}
