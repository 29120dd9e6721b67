package pcapstore

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"lachan/internal/event"
	"lachan/server/sensor"
)

// ParseCommunityID returns the hash inside a Community ID v1 string.
func ParseCommunityID(s string) ([sha1.Size]byte, error) {
	var h [sha1.Size]byte
	b64, ok := strings.CutPrefix(s, "1:")
	if !ok {
		return h, fmt.Errorf("community ID %q: want version 1 (\"1:\" and base64)", s)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha1.Size {
		return h, fmt.Errorf("community ID %q: not 20 bytes of base64", s)
	}
	copy(h[:], raw)
	return h, nil
}

// Query selects the packets Fetch returns: one flow, and optionally a
// time range (a zero time is no bound).
type Query struct {
	CommunityID string
	From, To    time.Time
}

// Fetch writes the packets the query selects, from every file in dir,
// to w as one pcap, and returns how many there were.
func Fetch(ctx context.Context, dir string, q Query, w io.Writer) (int, error) {
	h, err := ParseCommunityID(q.CommunityID)
	if err != nil {
		return 0, err
	}
	seqs, err := listFiles(dir)
	if err != nil {
		return 0, err
	}
	out := &fetchOut{w: w}
	for _, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return out.n, err
		}
		if err := fetchFile(dir, seq, h, q, out); err != nil {
			return out.n, err
		}
	}
	if out.pw == nil {
		// No packet: an empty capture still says which flow was asked for.
		if err := out.header(layers.LinkTypeEthernet); err != nil {
			return 0, err
		}
	}
	return out.n, nil
}

// fetchOut writes the selected packets; its header is written with the
// link type of the first one.
type fetchOut struct {
	w    io.Writer
	pw   *pcapgo.Writer
	link layers.LinkType
	n    int
}

func (o *fetchOut) header(link layers.LinkType) error {
	o.pw, o.link = pcapgo.NewWriterNanos(o.w), link
	if err := o.pw.WriteFileHeader(262144, link); err != nil {
		return fmt.Errorf("pcapstore: write output: %w", err)
	}
	return nil
}

func (o *fetchOut) packet(ci gopacket.CaptureInfo, link layers.LinkType, data []byte) error {
	if o.pw == nil {
		if err := o.header(link); err != nil {
			return err
		}
	}
	if link != o.link {
		return fmt.Errorf("pcapstore: the flow's packets have link types %v and %v; one pcap holds one", o.link, link)
	}
	if err := o.pw.WritePacket(ci, data); err != nil {
		return fmt.Errorf("pcapstore: write output: %w", err)
	}
	o.n++
	return nil
}

func inRange(q Query, first, last int64) bool {
	return (q.To.IsZero() || first <= q.To.UnixNano()) && (q.From.IsZero() || last >= q.From.UnixNano())
}

func fetchFile(dir string, seq uint64, h [sha1.Size]byte, q Query, out *fetchOut) error {
	raw, err := os.ReadFile(indexPath(dir, seq))
	if errors.Is(err, os.ErrNotExist) {
		return scanFile(pcapPath(dir, seq), h, q, out)
	}
	if err != nil {
		return fmt.Errorf("pcapstore: %w", err)
	}
	if _, hdr, err := readIndexHeader(raw); err == nil && !inRange(q, hdr.first, hdr.last) {
		return nil
	}
	x, err := parseIndex(raw)
	if err != nil {
		return fmt.Errorf("pcapstore: %s: %w", indexPath(dir, seq), err)
	}
	e := x.find(h)
	if e == nil || !inRange(q, e.first, e.last) {
		return nil
	}
	return readAt(pcapPath(dir, seq), e.offsets, q, out)
}

// readAt reads the packet records at the given offsets of a file the
// Writer made (little-endian, nanosecond pcap).
func readAt(path string, offsets []uint32, q Query, out *fetchOut) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pcapstore: %w", err)
	}
	defer f.Close()
	var fh [fileHeaderLen]byte
	if _, err := f.ReadAt(fh[:], 0); err != nil || string(fh[:4]) != "\x4d\x3c\xb2\xa1" {
		return fmt.Errorf("pcapstore: %s: not a capture file this store wrote", path)
	}
	link := layers.LinkType(binary.LittleEndian.Uint32(fh[20:]))
	buf := make([]byte, 0, 2048)
	for _, off := range offsets {
		var rh [recordHeaderLen]byte
		if _, err := f.ReadAt(rh[:], int64(off)); err != nil {
			return fmt.Errorf("pcapstore: %s byte offset %d: record header: %w", path, off, err)
		}
		caplen := binary.LittleEndian.Uint32(rh[8:])
		if caplen > 262144 {
			return fmt.Errorf("pcapstore: %s byte offset %d: record of %d bytes", path, off, caplen)
		}
		buf = buf[:caplen]
		if _, err := f.ReadAt(buf, int64(off)+recordHeaderLen); err != nil {
			return fmt.Errorf("pcapstore: %s byte offset %d: record: %w", path, off, err)
		}
		ts := time.Unix(int64(binary.LittleEndian.Uint32(rh[0:])), int64(binary.LittleEndian.Uint32(rh[4:])))
		if !inRange(q, ts.UnixNano(), ts.UnixNano()) {
			continue
		}
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: int(caplen), Length: int(binary.LittleEndian.Uint32(rh[12:]))}
		if err := out.packet(ci, link, buf); err != nil {
			return err
		}
	}
	return nil
}

// scanFile reads a file without an index, finding the flow of each
// packet with the sensor's own decoder. A file cut off in a record (the
// one being written) ends there.
func scanFile(path string, h [sha1.Size]byte, q Query, out *fetchOut) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pcapstore: %w", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil // nothing written yet
		}
		return fmt.Errorf("pcapstore: %s: %w", path, err)
	}
	m := &matcher{want: h}
	dec, err := sensor.NewDecoder(sensor.DefaultConfig(), nothing{})
	if err != nil {
		return err
	}
	dec.SetPacketSink(m)
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("pcapstore: %s: %w", path, err)
		}
		m.match = false
		if err := dec.Packet(data, ci, r.LinkType()); err != nil {
			return err
		}
		if m.match && inRange(q, ci.Timestamp.UnixNano(), ci.Timestamp.UnixNano()) {
			if err := out.packet(ci, r.LinkType(), data); err != nil {
				return err
			}
		}
	}
}

// matcher notes whether the packet just decoded belongs to the flow.
type matcher struct {
	want  [sha1.Size]byte
	match bool
}

func (m *matcher) WritePacket(_ []byte, _ gopacket.CaptureInfo, _ layers.LinkType, flow *[sha1.Size]byte) error {
	m.match = flow != nil && *flow == m.want
	return nil
}

// nothing is a sensor.Sink that drops the records.
type nothing struct{}

func (nothing) Flow(*sensor.Flow) error { return nil }
func (nothing) Event(event.Event) error { return nil }

var _ sensor.PacketSink = (*Writer)(nil)
