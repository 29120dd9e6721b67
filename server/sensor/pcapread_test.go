package sensor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

// samePcapRecords reports whether our reader and pcapgo's read the same
// from data, and what each read. Only data that starts with a pcap magic
// number is compared, since openSource hands no other to the reader
// (pcapgo's would also take a gzip header there).
func samePcapRecords(data []byte, wrap func(io.Reader) io.Reader) (ok bool, got, want []string) {
	if len(data) < 4 || !isPcapMagic(data[:4]) {
		return true, nil, nil
	}
	got, want = readRecords(data, true, wrap), readRecords(data, false, wrap)
	return fmt.Sprint(got) == fmt.Sprint(want), got, want
}

// readRecords reads every record of a classic pcap capture with our
// reader (ours) or pcapgo's, and renders what each returned, the error
// that ended reading last.
func readRecords(data []byte, ours bool, wrap func(io.Reader) io.Reader) []string {
	var r io.Reader = bytes.NewReader(data)
	if wrap != nil {
		r = wrap(r)
	}
	var next func() (record, error)
	if ours {
		s, err := newPcapSource(r)
		if err != nil {
			return []string{"header: " + err.Error()}
		}
		next = s.next
	} else {
		pr, err := pcapgo.NewReader(r)
		if err != nil {
			return []string{"header: " + err.Error()}
		}
		next = func() (record, error) {
			data, ci, err := pr.ZeroCopyReadPacketData()
			return record{data: data, ci: ci, link: pr.LinkType()}, err
		}
	}
	var out []string
	for len(out) < 1000 {
		rec, err := next()
		if err != nil {
			return append(out, "error: "+err.Error())
		}
		out = append(out, fmt.Sprintf("%v %d/%d link %d %x", rec.ci.Timestamp.Format(time.RFC3339Nano),
			rec.ci.CaptureLength, rec.ci.Length, rec.link, rec.data))
	}
	return out
}

// pcapFile builds a classic pcap file by hand, so that its header and
// records can say what a writer would not.
type pcapFile struct {
	order binary.AppendByteOrder
	buf   []byte
}

func newPcapFile(order binary.AppendByteOrder, magic uint32, snaplen, link uint32) *pcapFile {
	f := &pcapFile{order: order}
	f.buf = order.AppendUint32(f.buf, magic)
	f.buf = order.AppendUint16(f.buf, 2)
	f.buf = order.AppendUint16(f.buf, 4)
	f.buf = append(f.buf, make([]byte, 8)...)
	f.buf = order.AppendUint32(f.buf, snaplen)
	f.buf = order.AppendUint32(f.buf, link)
	return f
}

func (f *pcapFile) record(sec, frac uint32, caplen, length uint32, data []byte) *pcapFile {
	for _, v := range []uint32{sec, frac, caplen, length} {
		f.buf = f.order.AppendUint32(f.buf, v)
	}
	f.buf = append(f.buf, data...)
	return f
}

func pcapCases(t testing.TB) map[string][]byte {
	c := newCapture(t)
	c.udp(time.Millisecond, "10.0.0.1", 1000, "10.0.0.2", 2000, []byte("ok"))
	c.tcp(time.Millisecond, "10.0.0.1", 1000, "10.0.0.2", 80, "S", nil)
	c.tcp(time.Millisecond, "10.0.0.2", 80, "10.0.0.1", 1000, "SA", nil)
	big := bytes.Repeat([]byte{0xab}, 200_000)
	huge := bytes.Repeat([]byte{0xcd}, 300_000)
	le, be := binary.LittleEndian, binary.BigEndian
	cases := map[string][]byte{
		"writer": c.bytes(),
		"big-endian, nanoseconds": newPcapFile(be, 0xa1b23c4d, 65535, 1).
			record(1700000000, 999999999, 3, 3, []byte{1, 2, 3}).record(1, 4294967295, 0, 0, nil).buf,
		"little-endian, nanoseconds": newPcapFile(le, 0xa1b23c4d, 65535, 101).record(5, 7, 2, 9, []byte{9, 9}).buf,
		"big-endian, microseconds":   newPcapFile(be, 0xa1b2c3d4, 65535, 228).record(5, 7, 2, 9, []byte{9, 9}).buf,
		// Microseconds beyond a second wrap in 32 bits, as pcapgo computes them.
		"microseconds overflow":         newPcapFile(le, 0xa1b2c3d4, 65535, 1).record(5, 4294967295, 1, 1, []byte{1}).buf,
		"link type beyond 16 bits":      newPcapFile(le, 0xa1b2c3d4, 65535, 0x10001).record(0, 0, 1, 1, []byte{1}).buf,
		"record longer than the buffer": newPcapFile(le, 0xa1b2c3d4, 262144, 1).record(0, 0, 200_000, 200_000, big).record(1, 0, 1, 1, []byte{7}).buf,
		"record beyond the eager limit": newPcapFile(le, 0xa1b2c3d4, 400_000, 1).record(0, 0, 300_000, 300_000, huge).record(1, 0, 1, 1, []byte{7}).buf,
		"record beyond the eager limit, cut": newPcapFile(le, 0xa1b2c3d4, 400_000, 1).
			record(0, 0, 300_000, 300_000, huge[:1000]).buf,
		"capture length over snap length":   newPcapFile(le, 0xa1b2c3d4, 100, 1).record(0, 0, 262145, 262145, nil).buf,
		"capture length over packet length": newPcapFile(le, 0xa1b2c3d4, 100, 1).record(0, 0, 5, 4, []byte{1, 2, 3, 4, 5}).buf,
		"header only":                       newPcapFile(le, 0xa1b2c3d4, 100, 1).buf,
		"record header, no data":            newPcapFile(le, 0xa1b2c3d4, 100, 1).record(0, 0, 5, 5, nil).buf,
		"bad major version":                 newPcapFile(le, 0xa1b2c3d4, 100, 1).buf,
	}
	bad := cases["bad major version"]
	binary.LittleEndian.PutUint16(bad[4:], 3)
	bad = bytes.Clone(cases["header only"])
	binary.LittleEndian.PutUint16(bad[6:], 5)
	cases["bad minor version"] = bad
	return cases
}

// TestPcapSourceAsPcapgo holds the pcap reader to pcapgo's: the same
// records, times, link types and errors, for whole files, files cut at
// every length and files read a byte at a time or with errors.
func TestPcapSourceAsPcapgo(t *testing.T) {
	wraps := map[string]func(io.Reader) io.Reader{
		"whole":        nil,
		"one byte":     iotest.OneByteReader,
		"half":         iotest.HalfReader,
		"data and EOF": iotest.DataErrReader,
	}
	for name, data := range pcapCases(t) {
		for wname, wrap := range wraps {
			if len(data) > 100_000 && wrap != nil {
				continue
			}
			if ok, got, want := samePcapRecords(data, wrap); !ok {
				t.Errorf("%s, %s:\n got  %.500q\n want %.500q", name, wname, got, want)
			}
		}
		if len(data) > 10_000 {
			continue
		}
		for n := range len(data) {
			if ok, got, want := samePcapRecords(data[:n], nil); !ok {
				t.Errorf("%s cut at %d:\n got  %q\n want %q", name, n, got, want)
			}
		}
	}
	// A read error after some records ends reading where pcapgo's does.
	data := pcapCases(t)["writer"]
	failing := func(r io.Reader) io.Reader {
		return io.MultiReader(io.LimitReader(r, int64(len(data)-10)), iotest.ErrReader(io.ErrClosedPipe))
	}
	if ok, got, want := samePcapRecords(data, failing); !ok {
		t.Errorf("read error:\n got  %q\n want %q", got, want)
	}
}

func FuzzPcapSource(f *testing.F) {
	for _, data := range pcapCases(f) {
		if len(data) < 10_000 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if ok, got, want := samePcapRecords(data, nil); !ok {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	})
}
