package winlog

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lachan/internal/event"
	"lachan/internal/winevent"
	"lachan/test/shareddata"
)

func TestRenderScalar(t *testing.T) {
	le := func(n uint64, size int) []byte {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint64(b, n)
		return b[:size]
	}
	guid := []byte{0x5f, 0x38, 0x70, 0x57, 0x2a, 0xc2, 0xe0, 0x43, 0xbf, 0x4c, 0x06, 0xf5, 0x69, 0x8f, 0xfb, 0xd9}
	sysTime := []byte{0xe3, 0x07, 3, 0, 1, 0, 18, 0, 16, 0, 17, 0, 56, 0, 0x0f, 0x03}
	tests := []struct {
		name string
		typ  byte
		in   []byte
		want string
	}{
		{"HexInt32", typeHexInt32, le(0x1fffff, 4), "0x1fffff"},
		{"HexInt64", typeHexInt64, le(0x8000000000000000, 8), "0x8000000000000000"},
		{"UInt64 past float64", typeUint64, le(18446744073709551615, 8), "18446744073709551615"},
		{"Int64", typeInt64, le(^uint64(0), 8), "-1"},
		{"Int32", typeInt32, le(0xfffffffe, 4), "-2"},
		{"UInt16", typeUint16, le(65535, 2), "65535"},
		{"GUID", typeGUID, guid, "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"},
		{"FILETIME", typeFileTime, le(131973994767830000, 8), "2019-03-18T16:17:56.7830000Z"},
		{"FILETIME 100 ns", typeFileTime, le(131973994767830001, 8), "2019-03-18T16:17:56.7830001Z"},
		{"SYSTEMTIME", typeSystemTime, sysTime, "2019-03-18T16:17:56.7830000Z"},
		{"SID", typeSID, []byte{1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}, "S-1-5-18"},
		{"SID domain", typeSID, []byte{1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0}, "S-1-5-32-544"},
		{"Boolean", typeBool, le(1, 4), "true"},
		{"Boolean false", typeBool, le(0, 4), "false"},
		{"binary", typeBinary, []byte{0x0a, 0xbc}, "0ABC"},
		{"string", typeString, []byte("a\x00\xe9\x00\x00\x00"), "aé"},
		{"SizeT", typeSizeT, le(0x7ff6, 8), "0x7ff6"},
	}
	for _, tt := range tests {
		got, err := renderScalar(tt.typ, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []struct {
		typ byte
		in  []byte
	}{{typeHexInt32, []byte{1, 2}}, {typeGUID, make([]byte, 15)}, {typeSID, []byte{1, 3, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}}, {typeFileTime, nil}} {
		if got, err := renderScalar(bad.typ, bad.in); err == nil {
			t.Errorf("type 0x%02x of %d bytes gave %q, want an error", bad.typ, len(bad.in), got)
		}
	}
}

func TestRenderArray(t *testing.T) {
	b := binXML{chunk: []byte("a\x00\x00\x00b\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00")}
	if s, err := b.render(value{typ: typeArray | typeString, off: 0, len: 8}); err != nil || s != "a,b" {
		t.Errorf("string array: %q, %v", s, err)
	}
	if s, err := b.render(value{typ: typeArray | typeHexInt32, off: 8, len: 8}); err != nil || s != "0x1,0x2" {
		t.Errorf("HexInt32 array: %q, %v", s, err)
	}
	if _, err := b.render(value{typ: typeArray | typeHexInt32, off: 8, len: 7}); err == nil {
		t.Error("a HexInt32 array of 7 bytes rendered")
	}
}

// sampleEVTX is one regression .evtx file, or nil without the data.
func sampleEVTX(tb testing.TB) []byte {
	tb.Helper()
	files := regressionEVTX(tb)
	b, err := os.ReadFile(files[0])
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestReadEVTXErrors damages a real file in the ways the reader must
// name: where, and what.
func TestReadEVTXErrors(t *testing.T) {
	src := sampleEVTX(t)
	collect := func(b []byte) (n int, errs []string, err error) {
		err = ReadEVTX(bytes.NewReader(b), func(_ event.Event, e error) error {
			if e != nil {
				errs = append(errs, e.Error())
				return nil
			}
			n++
			return nil
		})
		return n, errs, err
	}
	if n, errs, err := collect(src); n == 0 || len(errs) > 0 || err != nil {
		t.Fatalf("intact file: %d events, %v, %v", n, errs, err)
	}
	tests := []struct {
		name   string
		damage func([]byte) []byte
		want   string
	}{
		{"not evtx", func(b []byte) []byte { return append([]byte("MZ"), b[2:]...) }, "no ElfFile signature"},
		{"short header", func(b []byte) []byte { return b[:100] }, "evtx: file header"},
		{"cut chunk", func(b []byte) []byte { return b[:fileHeaderSize+1000] }, "evtx chunk 0 (offset 4096): 1000 bytes, the file ends inside it"},
		{"flipped byte", func(b []byte) []byte { b[fileHeaderSize+700] ^= 0xff; return b }, "evtx chunk 0 (offset 4096): chunk records checksum"},
		{"bad chunk signature", func(b []byte) []byte { b[fileHeaderSize] = 'X'; return b }, "evtx chunk 0 (offset 4096): no ElfChnk signature; skipped"},
	}
	for _, tt := range tests {
		b := tt.damage(bytes.Clone(src))
		_, errs, err := collect(b)
		all := strings.Join(errs, "\n")
		if err != nil {
			all += "\n" + err.Error()
		}
		if !strings.Contains(all, tt.want) {
			t.Errorf("%s: errors %q, want one with %q", tt.name, all, tt.want)
		}
	}
}

// TestRecordErrors damages a record's binary XML inside a chunk whose
// checksums are made to match: the error names the chunk, the record and
// its offset in the file, and the other records still come.
func TestRecordErrors(t *testing.T) {
	src := sampleEVTX(t)
	chunk := bytes.Clone(src[fileHeaderSize : fileHeaderSize+chunkSize])
	// The first record's template instance: its definition offset made
	// to point outside the chunk.
	rec := chunkHeaderSize + recordHeaderSize
	i := bytes.IndexByte(chunk[rec:rec+16], tokTemplate)
	if i < 0 {
		t.Fatal("no template instance at the start of the first record")
	}
	binary.LittleEndian.PutUint32(chunk[rec+i+6:], 0xfff0)
	var errs []string
	events := 0
	b := binXML{chunk: chunk}
	err := readChunk(&b, 0, fileHeaderSize, func(root *winevent.Element, _ string, err error) error {
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			events++
		}
		return nil
	})
	if err != nil || len(errs) != 1 {
		t.Fatalf("%d errors %q, %v", len(errs), errs, err)
	}
	want := "evtx chunk 0, record "
	if !strings.HasPrefix(errs[0], want) || !strings.Contains(errs[0], "(offset 4608)") || !strings.Contains(errs[0], "template definition at 65520 outside the chunk") {
		t.Errorf("error %q", errs[0])
	}
	t.Logf("%s; %d other records read", errs[0], events)
}

// FuzzEVTXChunk feeds damaged chunks to the record reader past the
// checksums, which a crafted file can pass: no panic, every bound holds,
// and every record read converts to a valid event or an error.
func FuzzEVTXChunk(f *testing.F) {
	if files := regressionEVTXIfAny(); len(files) > 0 {
		for _, p := range files[:min(3, len(files))] {
			if b, err := os.ReadFile(p); err == nil && len(b) >= fileHeaderSize+chunkSize {
				f.Add(b[fileHeaderSize : fileHeaderSize+chunkSize])
			}
		}
	}
	f.Add([]byte("ElfChnk\x00"))
	f.Fuzz(func(t *testing.T, src []byte) {
		chunk := make([]byte, chunkSize)
		copy(chunk, src)
		if free := binary.LittleEndian.Uint32(chunk[offFreeSpace:]); free < chunkHeaderSize || free > chunkSize {
			binary.LittleEndian.PutUint32(chunk[offFreeSpace:], uint32(min(max(len(src), chunkHeaderSize), chunkSize)))
		}
		b := binXML{chunk: chunk}
		_ = readChunk(&b, 0, fileHeaderSize, func(root *winevent.Element, where string, err error) error {
			if err != nil {
				return nil
			}
			if len(root.XML()) > 64*winevent.MaxXMLBytes {
				t.Fatalf("%s: element of %d bytes", where, len(root.XML()))
			}
			if ev, err := winevent.FromElement(root); err == nil {
				if verr := ev.Validate(); verr != nil {
					t.Fatalf("%s: invalid event: %v", where, verr)
				}
			}
			return nil
		})
	})
}

// regressionEVTXIfAny lists the regression .evtx files there are, for
// seeds: a fuzz target runs without the data too.
func regressionEVTXIfAny() []string {
	d, ok := shareddata.Path()
	if !ok {
		return nil
	}
	var files []string
	_ = filepath.WalkDir(filepath.Join(d, "sigma", "sigmahq", "regression_data"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(p, ".evtx") {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// BenchmarkReadEVTX reads every SigmaHQ regression .evtx file into
// events.
func BenchmarkReadEVTX(b *testing.B) {
	var srcs [][]byte
	size := 0
	for _, f := range regressionEVTX(b) {
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, src)
		size += len(src)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		records = 0
		for _, src := range srcs {
			_ = ReadEVTX(bytes.NewReader(src), func(_ event.Event, err error) error {
				if err != nil {
					b.Fatal(err)
				}
				records++
				return nil
			})
		}
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
