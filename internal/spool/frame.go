package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// headerSize is the framing each record costs on disk.
const headerSize = 16

// maxRecord keeps a record's length in a uint32 with room to spare and
// bounds what one corrupt length field can make a reader allocate.
const maxRecord = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func frameSize(payload int) int64 { return int64(headerSize + payload) }

// appendFrame appends one framed record to buf.
func appendFrame(buf []byte, seq uint64, payload []byte) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:16], seq)
	binary.LittleEndian.PutUint32(h[4:8], frameCRC(h[:], payload))
	buf = append(buf, h[:]...)
	return append(buf, payload...)
}

// frameCRC covers the length and sequence number as well as the payload,
// so that a flipped bit in the header is caught like one in the data.
func frameCRC(h []byte, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, h[0:4])
	c = crc32.Update(c, castagnoli, h[8:16])
	return crc32.Update(c, castagnoli, payload)
}

// errBadFrame marks the point where a segment stops being trustworthy.
var errBadFrame = errors.New("bad frame")

// frameReader reads frames from a segment of known size.
type frameReader struct {
	r    *bufio.Reader
	off  int64 // offset of the next frame
	size int64
}

func newFrameReader(r io.Reader, off, size int64) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10), off: off, size: size}
}

// next returns the next frame. With skip it checks nothing and does not
// keep the payload: it serves to move past frames already verified. It
// returns io.EOF at a clean end and an error wrapping errBadFrame where a
// frame is torn or corrupt.
func (fr *frameReader) next(skip bool) (seq uint64, payload []byte, err error) {
	left := fr.size - fr.off
	if left == 0 {
		return 0, nil, io.EOF
	}
	if left < headerSize {
		return 0, nil, fmt.Errorf("%w at offset %d: %d bytes, shorter than a header", errBadFrame, fr.off, left)
	}
	var h [headerSize]byte
	if _, err := io.ReadFull(fr.r, h[:]); err != nil {
		return 0, nil, fmt.Errorf("read header at offset %d: %w", fr.off, err)
	}
	n := int64(binary.LittleEndian.Uint32(h[0:4]))
	seq = binary.LittleEndian.Uint64(h[8:16])
	if n > maxRecord || n > left-headerSize {
		return 0, nil, fmt.Errorf("%w at offset %d: length %d runs past the end", errBadFrame, fr.off, n)
	}
	if skip {
		if _, err := fr.r.Discard(int(n)); err != nil {
			return 0, nil, fmt.Errorf("read record at offset %d: %w", fr.off, err)
		}
		fr.off += headerSize + n
		return seq, nil, nil
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(fr.r, payload); err != nil {
		return 0, nil, fmt.Errorf("read record at offset %d: %w", fr.off, err)
	}
	if got, want := frameCRC(h[:], payload), binary.LittleEndian.Uint32(h[4:8]); got != want {
		return 0, nil, fmt.Errorf("%w at offset %d: checksum %08x, want %08x", errBadFrame, fr.off, got, want)
	}
	fr.off += headerSize + n
	return seq, payload, nil
}
