package embedded

import (
	"encoding/binary"
	"hash/crc32"
)

// The write-ahead log format is Pebble's (package record): 32 KiB blocks of
// chunks, each chunk with a header of CRC (4 bytes), payload length (2), type
// (1) and, for the recyclable types Pebble writes, the low 32 bits of the
// log's number (4). A record is one full chunk or a first, middles and a last
// chunk. Pebble's reader stops at the first bad chunk and calls that the end
// of the log; scanWAL reads on past it so that damage followed by more of the
// log can be told apart from a torn tail.
const (
	walBlockSize       = 32 << 10
	walLegacyHeader    = 7
	walRecyclHeader    = 11
	walFull            = 1
	walFirst           = 2
	walMiddle          = 3
	walLast            = 4
	walRecyclableShift = 4
)

var walCRCTable = crc32.MakeTable(crc32.Castagnoli)

// walCRC is Pebble's masked CRC-32C.
func walCRC(b []byte) uint32 {
	c := crc32.Update(0, walCRCTable, b)
	return (c>>15 | c<<17) + 0xa282ead8
}

// walRecord is one whole record of a log: a Pebble batch. Payload aliases the
// scanned buffer unless the record spans chunks.
type walRecord struct {
	Offset  int64
	Payload []byte
}

// walGap is a stretch of a log that cannot be read, followed by more of it.
type walGap struct {
	Offset int64
	Length int64
}

// walScan is what scanWAL found in one log.
type walScan struct {
	// Records are the whole records that can be read, in order.
	Records []walRecord
	// Gaps are the damaged stretches with readable chunks of this log after
	// them. Pebble would drop everything from the first gap on.
	Gaps []walGap
	// End is where the log ends: the file's end, zeroed space, or chunks of
	// the file's previous life (a recycled log).
	End int64
	// Torn is the number of unreadable bytes between the last readable chunk
	// and End that nothing readable follows: the tail of a write cut by a
	// crash, which was never acknowledged.
	Torn int64
	// Partial counts records cut by a gap: the record a gap began in, or
	// else the one the gap's first chunk began (a record of one chunk lies
	// wholly in the gap), and one whose last chunk was never written. A
	// gap long enough to hold several records counts one.
	Partial int
}

// Damaged reports whether the log has readable data after unreadable data.
func (s *walScan) Damaged() bool { return len(s.Gaps) > 0 }

// chunkAt parses the chunk at pos. It returns the chunk's type (1-4), its
// payload and its end; ok is false for anything that is not a valid chunk of
// log logNum. stale is true for a valid chunk of another log number: the
// previous contents of a recycled file.
func chunkAt(b []byte, pos int, logNum uint32) (typ byte, payload []byte, end int, ok, stale bool) {
	room := walBlockSize - pos%walBlockSize
	if room < walLegacyHeader || len(b)-pos < walLegacyHeader {
		return 0, nil, 0, false, false
	}
	h := b[pos:]
	sum := binary.LittleEndian.Uint32(h[0:4])
	n := int(binary.LittleEndian.Uint16(h[4:6]))
	typ = h[6]
	hdr := walLegacyHeader
	switch {
	case typ >= walFull && typ <= walLast:
	case typ > walLast && typ <= walLast+walRecyclableShift:
		hdr = walRecyclHeader
	default:
		return 0, nil, 0, false, false
	}
	if hdr+n > room || pos+hdr+n > len(b) {
		return 0, nil, 0, false, false
	}
	if hdr == walRecyclHeader {
		typ -= walRecyclableShift
		// Another log number ends the log, checksum or not: it is either
		// the previous life of a recycled file or the end-of-log trailer
		// Pebble writes when it closes a log, whose checksum is zero.
		if binary.LittleEndian.Uint32(h[7:11]) != logNum {
			return typ, nil, 0, false, true
		}
	}
	if walCRC(b[pos+6:pos+hdr+n]) != sum {
		return 0, nil, 0, false, false
	}
	return typ, b[pos+hdr : pos+hdr+n], pos + hdr + n, true, false
}

// nextChunk finds the first valid chunk of log logNum at or after pos, or
// returns -1. Only recyclable chunks, the kind Pebble writes, are looked
// for: their log number and checksum together make a false match in damaged
// bytes practically impossible, and most positions are rejected without
// computing a checksum.
func nextChunk(b []byte, pos int, logNum uint32) int {
	for ; pos+walRecyclHeader <= len(b); pos++ {
		t := b[pos+6]
		if t <= walLast || t > walLast+walRecyclableShift || binary.LittleEndian.Uint32(b[pos+7:pos+11]) != logNum {
			continue
		}
		if _, _, _, ok, _ := chunkAt(b, pos, logNum); ok {
			return pos
		}
	}
	return -1
}

// scanWAL reads the log b, whose file number's low 32 bits are logNum.
func scanWAL(b []byte, logNum uint32) walScan {
	var s walScan
	var rec []byte
	recOff, inRec := int64(0), false
	// cut: the record a gap cut was counted, and its chunks after the gap
	// are not counted again.
	cut := false
	pos := 0
	for pos < len(b) {
		room := walBlockSize - pos%walBlockSize
		if room < walRecyclHeader && allZero(b[pos:min(len(b), pos+room)]) {
			// The writer pads a block's last few bytes with zeros.
			pos += room
			continue
		}
		typ, p, end, ok, _ := chunkAt(b, pos, logNum)
		if !ok {
			next := nextChunk(b, pos+1, logNum)
			if next < 0 {
				s.End = int64(pos)
				if !allZero(b[pos:]) && !staleAt(b, pos, logNum) {
					s.Torn = int64(len(b) - pos)
				}
				if inRec {
					s.Partial++
				}
				return s
			}
			s.Gaps = append(s.Gaps, walGap{Offset: int64(pos), Length: int64(next - pos)})
			// A chunk began where the gap does, unless the damage is in the
			// zeros padding a block's end: either the record in progress or
			// a new one is cut.
			if inRec || room >= walRecyclHeader {
				s.Partial++
				cut = true
			}
			inRec = false
			pos = next
			continue
		}
		switch typ {
		case walFull, walFirst:
			if inRec {
				s.Partial++
			}
			cut = false
			recOff, inRec, rec = int64(pos), true, append(rec[:0], p...)
		case walMiddle, walLast:
			if !inRec {
				// The rest of a record whose start was in a gap: counted
				// with the gap, or else (a log that begins mid-record) here.
				if !cut {
					s.Partial++
				}
				cut = typ != walLast
				pos = end
				continue
			}
			rec = append(rec, p...)
		}
		if typ == walFull || typ == walLast {
			s.Records = append(s.Records, walRecord{Offset: recOff, Payload: append([]byte(nil), rec...)})
			inRec = false
		}
		pos = end
	}
	s.End = int64(len(b))
	if inRec {
		// A record whose last chunk was never written: a torn tail.
		s.Partial++
	}
	return s
}

// staleAt reports whether pos holds a valid chunk of a recycled log's
// previous life, which ends this one.
func staleAt(b []byte, pos int, logNum uint32) bool {
	_, _, _, _, stale := chunkAt(b, pos, logNum)
	return stale
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// appendWAL encodes records as log logNum in Pebble's recyclable chunk
// format, the one Pebble writes, so that Pebble reads the result and a later
// recycling of the file cannot mistake it for live data.
func appendWAL(dst []byte, logNum uint32, records [][]byte) []byte {
	for _, r := range records {
		first := true
		for {
			room := walBlockSize - len(dst)%walBlockSize
			if room < walRecyclHeader {
				dst = append(dst, make([]byte, room)...)
				continue
			}
			n := min(len(r), room-walRecyclHeader)
			last := n == len(r)
			typ := byte(walMiddle)
			switch {
			case first && last:
				typ = walFull
			case first:
				typ = walFirst
			case last:
				typ = walLast
			}
			var h [walRecyclHeader]byte
			binary.LittleEndian.PutUint16(h[4:6], uint16(n))
			h[6] = typ + walRecyclableShift
			binary.LittleEndian.PutUint32(h[7:11], logNum)
			start := len(dst)
			dst = append(append(dst, h[:]...), r[:n]...)
			binary.LittleEndian.PutUint32(dst[start:], walCRC(dst[start+6:]))
			r, first = r[n:], false
			if last {
				break
			}
		}
	}
	return dst
}
