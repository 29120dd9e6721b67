package pcapstore

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

const indexMagic = "LCPIDX1\n"

// maxIndexEntries bounds what a reader believes an index's counts say,
// so that a corrupt count cannot make it allocate without end.
const maxIndexEntries = 1 << 26

// entry is one flow's packets in one file.
type entry struct {
	hash        [sha1.Size]byte
	first, last int64 // Unix nanoseconds
	offsets     []uint32
}

// index is what one file holds, flow by flow.
type index struct {
	first, last int64
	entries     []entry // sorted by hash
}

func (x *index) find(h [sha1.Size]byte) *entry {
	i, ok := slices.BinarySearchFunc(x.entries, h, func(e entry, h [sha1.Size]byte) int { return bytes.Compare(e.hash[:], h[:]) })
	if !ok {
		return nil
	}
	return &x.entries[i]
}

func writeIndex(w io.Writer, x *index) error {
	bw := bufio.NewWriter(w)
	var b []byte
	b = append(b, indexMagic...)
	b = binary.AppendVarint(b, x.first)
	b = binary.AppendUvarint(b, uint64(x.last-x.first))
	b = binary.AppendUvarint(b, uint64(len(x.entries)))
	for i := range x.entries {
		e := &x.entries[i]
		b = append(b, e.hash[:]...)
		b = binary.AppendVarint(b, e.first)
		b = binary.AppendUvarint(b, uint64(e.last-e.first))
		b = binary.AppendUvarint(b, uint64(len(e.offsets)))
		prev := uint32(0)
		for _, o := range e.offsets {
			b = binary.AppendUvarint(b, uint64(o-prev))
			prev = o
		}
		if len(b) > 64<<10 {
			if _, err := bw.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

// indexReader reads an index, naming the byte offset of what is wrong.
type indexReader struct {
	b   []byte
	off int
}

func (r *indexReader) fail(what string) error {
	return fmt.Errorf("index byte offset %d: %s", r.off, what)
}

func (r *indexReader) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, r.fail("bad " + what)
	}
	r.off += n
	return v, nil
}

func (r *indexReader) varint(what string) (int64, error) {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		return 0, r.fail("bad " + what)
	}
	r.off += n
	return v, nil
}

// span reads a first time and a span after it as first and last.
func (r *indexReader) span(what string) (first, last int64, err error) {
	if first, err = r.varint(what + " first time"); err != nil {
		return 0, 0, err
	}
	d, err := r.uvarint(what + " span")
	if err != nil {
		return 0, 0, err
	}
	if d > 1<<62 || first > 1<<62 || first < -(1<<62) {
		return 0, 0, r.fail(what + " time out of range")
	}
	return first, first + int64(d), nil
}

// readIndexHeader reads an index's magic and time range.
func readIndexHeader(b []byte) (*indexReader, index, error) {
	r := &indexReader{b: b}
	var x index
	if !bytes.HasPrefix(b, []byte(indexMagic)) {
		return nil, x, errors.New("index byte offset 0: not a capture index (bad magic)")
	}
	r.off = len(indexMagic)
	var err error
	x.first, x.last, err = r.span("file")
	return r, x, err
}

// parseIndex reads a whole index.
func parseIndex(b []byte) (*index, error) {
	r, x, err := readIndexHeader(b)
	if err != nil {
		return nil, err
	}
	n, err := r.uvarint("entry count")
	if err != nil {
		return nil, err
	}
	// Every entry takes at least 24 bytes: a bound that no lying count passes.
	if n > maxIndexEntries || n > uint64(len(b)-r.off)/24 {
		return nil, r.fail(fmt.Sprintf("entry count %d does not fit the file", n))
	}
	x.entries = make([]entry, 0, n)
	for i := uint64(0); i < n; i++ {
		e, err := r.entry()
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if k := len(x.entries); k > 0 && bytes.Compare(x.entries[k-1].hash[:], e.hash[:]) >= 0 {
			return nil, r.fail("entries not sorted by hash")
		}
		x.entries = append(x.entries, e)
	}
	if r.off != len(b) {
		return nil, r.fail("trailing bytes")
	}
	return &x, nil
}

func (r *indexReader) entry() (entry, error) {
	var e entry
	if len(r.b)-r.off < sha1.Size {
		return e, r.fail("cut off in a flow hash")
	}
	copy(e.hash[:], r.b[r.off:])
	r.off += sha1.Size
	var err error
	if e.first, e.last, err = r.span("flow"); err != nil {
		return e, err
	}
	count, err := r.uvarint("packet count")
	if err != nil {
		return e, err
	}
	if count == 0 || count > uint64(len(r.b)-r.off) {
		return e, r.fail(fmt.Sprintf("packet count %d does not fit the file", count))
	}
	e.offsets = make([]uint32, count)
	var at uint64
	for j := range e.offsets {
		d, err := r.uvarint("packet offset")
		if err != nil {
			return e, err
		}
		if at += d; at > 1<<32-1 || j > 0 && d == 0 {
			return e, r.fail("packet offsets not increasing within 4 GiB")
		}
		e.offsets[j] = uint32(at)
	}
	return e, nil
}
