package sensor

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// pcapReadSize is the size of the pcap reader's buffer, and so of its
// reads. Larger reads were no faster: the bytes are copied once either
// way, and 64 KiB stays in the processor's cache until it is decoded.
const pcapReadSize = 64 << 10

// pcapEagerMax is the longest record the reader makes room for before
// reading it, as gopacket's pcapgo reader; beyond it (a file that
// declares a larger snap length) the buffer grows only with the bytes
// actually read, so that a short file cannot make it allocate gigabytes.
const pcapEagerMax = 262144

// pcapSource reads classic pcap records straight out of a large buffer,
// handing out each record's bytes where they lie instead of copying them
// into a packet buffer through io.ReadFull as pcapgo's reader does. It
// accepts and refuses what pcapgo.Reader does, with the same errors and
// the same timestamps, so that a capture decodes to the same records and
// the same errors whichever reads it.
//
// A record's data is owned by the pcapSource and valid until the next
// call to next.
type pcapSource struct {
	r          io.Reader
	buf        []byte
	start, end int   // buf[start:end] is read and not yet handed out
	err        error // the error that ended reading, once it has
	big        bool  // big-endian file
	nanos      uint32
	snaplen    uint32
	link       layers.LinkType
	offset     int64 // byte offset of the next record in the file
}

// newPcapSource reads the 24-byte file header from r, whose first four
// bytes are known to be a pcap magic number.
func newPcapSource(r io.Reader) (*pcapSource, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	s := &pcapSource{r: r, offset: 24, nanos: 1}
	switch magic := binary.LittleEndian.Uint32(h[:4]); magic {
	case 0xa1b2c3d4:
		s.nanos = 1000
	case 0xd4c3b2a1:
		s.big, s.nanos = true, 1000
	case 0xa1b23c4d:
	case 0x4d3cb2a1:
		s.big = true
	default:
		return nil, fmt.Errorf("Unknown magic %x", magic)
	}
	if v := s.u16(h[4:]); v != 2 {
		return nil, fmt.Errorf("Unknown major version %d", v)
	}
	if v := s.u16(h[6:]); v != 4 {
		return nil, fmt.Errorf("Unknown minor version %d", v)
	}
	s.snaplen = s.u32(h[16:])
	s.link = layers.LinkType(s.u32(h[20:]))
	return s, nil
}

func (s *pcapSource) u16(b []byte) uint16 {
	if s.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (s *pcapSource) u32(b []byte) uint32 {
	if s.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (s *pcapSource) next() (record, error) {
	rec := record{link: s.link, offset: s.offset}
	if err := s.fill(16); err != nil {
		return rec, err
	}
	h := s.buf[s.start : s.start+16]
	s.start += 16
	rec.ci.Timestamp = time.Unix(int64(s.u32(h[0:])), int64(s.u32(h[4:])*s.nanos)).UTC()
	rec.ci.CaptureLength = int(s.u32(h[8:]))
	rec.ci.Length = int(s.u32(h[12:]))
	n := rec.ci.CaptureLength
	if max := max(int(s.snaplen), pcapEagerMax); n > max {
		return rec, fmt.Errorf("capture length exceeds snap length: %d > %d", n, s.snaplen)
	}
	if n > rec.ci.Length {
		return rec, fmt.Errorf("capture length exceeds original packet length: %d > %d", n, rec.ci.Length)
	}
	if err := s.fill(n); err != nil {
		return rec, err
	}
	rec.data = s.buf[s.start : s.start+n : s.start+n]
	s.start += n
	s.offset += 16 + int64(n)
	return rec, nil
}

// fill makes sure that n bytes are buffered, reading more when they are
// not. Like io.ReadFull it fails with io.EOF when no byte of the n was
// there to read and with io.ErrUnexpectedEOF when some were.
func (s *pcapSource) fill(n int) error {
	if s.end-s.start >= n {
		return nil
	}
	if n > 0 && s.err == nil {
		s.read(n)
	}
	have := s.end - s.start
	switch {
	case have >= n:
		return nil
	case s.err != io.EOF:
		return s.err
	case have > 0:
		return io.ErrUnexpectedEOF
	}
	return io.EOF
}

// read reads until n bytes are buffered or reading fails, moving what is
// left to the front of the buffer first. A record up to pcapEagerMax gets
// room for all of it at once; a longer one grows the buffer only as its
// bytes arrive.
func (s *pcapSource) read(n int) {
	if s.start > 0 {
		s.end = copy(s.buf, s.buf[s.start:s.end])
		s.start = 0
	}
	size := max(len(s.buf), pcapReadSize)
	if n > size && n <= pcapEagerMax {
		size = n
	}
	s.resize(size)
	for empty := 0; s.end < n && s.err == nil; {
		if s.end == len(s.buf) {
			s.resize(2 * len(s.buf))
		}
		m, err := s.r.Read(s.buf[s.end:])
		s.end += m
		switch {
		case err != nil:
			s.err = err
		case m > 0:
			empty = 0
		default:
			if empty++; empty == 100 {
				s.err = io.ErrNoProgress
			}
		}
	}
}

func (s *pcapSource) resize(size int) {
	if size > len(s.buf) {
		b := make([]byte, size)
		copy(b, s.buf[:s.end])
		s.buf = b
	}
}
