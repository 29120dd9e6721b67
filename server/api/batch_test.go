package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/winevent"
	"lachan/test/procstat"
	"lachan/test/shareddata"
)

// BenchmarkReadBatch is the server's cost, in CPU time, of reading one
// agent batch of 100 Windows events (SigmaHQ's regression events, as the
// load generator sends them) from its gzip body into events: what every
// ingest pays before detection and the store.
func BenchmarkReadBatch(b *testing.B) {
	objs, err := shareddata.RegressionEvents(filepath.Join(shareddata.Dir(b), "sigma", "sigmahq", "regression_data"))
	if err != nil {
		b.Fatal(err)
	}
	var lines [][]byte
	for _, o := range objs {
		if !winevent.IsWindowsEvent(o) || len(lines) == 100 {
			continue
		}
		ev, err := winevent.Convert(o)
		if err != nil {
			b.Fatal(err)
		}
		ev.ID, ev.Timestamp = event.NewID(), time.Now()
		l, err := ev.AppendJSON(nil)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, l)
	}
	if len(lines) < 100 {
		b.Fatalf("%d Windows events in the regression data, want 100", len(lines))
	}
	body := gz(lines)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := procstat.SelfCPU()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Encoding", "gzip")
		evs, err := readBatch(w, r)
		if err != nil || len(evs) != len(lines) {
			b.Fatalf("%d events, %v", len(evs), err)
		}
	}
	b.ReportMetric(float64((procstat.SelfCPU()-cpu0).Microseconds())/float64(b.N*len(lines)), "cpu-µs/event")
}

// TestDecodeBatchLines checks how a body is cut into lines: as
// bufio.Scanner's ScanLines cut it before, CRLF or LF, blank lines
// counted, a last line without its newline taken, a line of maxLine bytes
// or more refused with the Scanner's error, each error naming the line.
func TestDecodeBatchLines(t *testing.T) {
	f := findings(3)
	long := append(bytes.Repeat([]byte(" "), maxLine-len(f[1])), f[1]...)
	for _, c := range []struct {
		name string
		body []byte
		n    int
		err  string
	}{
		{"lf", bytes.Join(f, []byte("\n")), 3, ""},
		{"crlf and blank lines", bytes.Join([][]byte{f[0], {}, f[1], []byte("  "), f[2], {}}, []byte("\r\n")), 3, ""},
		{"the same event twice", bytes.Join([][]byte{f[0], f[0]}, []byte("\n")), 1, ""},
		{"bad third line", bytes.Join([][]byte{f[0], {}, []byte("{")}, []byte("\n")), 0, "line 3: "},
		{"line too long", bytes.Join([][]byte{f[0], long, f[2]}, []byte("\n")), 0, "line 2: bufio.Scanner: token too long"},
		{"longest line", bytes.Join([][]byte{f[0], long[1:], f[2]}, []byte("\n")), 3, ""},
		{"nothing", []byte("\n \r\n"), 0, "empty batch"},
	} {
		evs, err := DecodeBatch(c.body)
		switch {
		case c.err == "" && (err != nil || len(evs) != c.n):
			t.Errorf("%s: %d events, %v; want %d", c.name, len(evs), err, c.n)
		case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
			t.Errorf("%s: %v, want %q…", c.name, err, c.err)
		}
	}
}

// FuzzReadBatchGzip sends any bytes as a gzip ingest body: none may
// panic or decode an invalid event, and the pooled buffers and reader
// left behind by whatever went wrong must read the next good body whole.
func FuzzReadBatchGzip(f *testing.F) {
	good := gz(findings(3))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(append(append([]byte{}, good...), good...))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	post := func(body []byte) ([]event.Event, error) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Encoding", "gzip")
		return readBatch(httptest.NewRecorder(), r)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := post(body)
		if err == nil {
			for _, ev := range evs {
				if err := ev.Validate(); err != nil {
					t.Fatalf("decoded an invalid event: %v", err)
				}
			}
		}
		if evs, err := post(good); err != nil || len(evs) != 3 {
			t.Fatalf("the good body after this one: %d events, %v", len(evs), err)
		}
	})
}
