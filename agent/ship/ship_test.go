package ship

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/agent/client"
	"lachan/internal/logging"
	"lachan/internal/spool"
	"lachan/internal/wire"
)

// server plays the ingest endpoint: it answers from a script, then 200.
type server struct {
	answers  []error
	got      [][]string // lines of each accepted batch
	attempts int
}

func (s *server) Ingest(_ context.Context, body []byte) (wire.IngestResponse, error) {
	s.attempts++
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return wire.IngestResponse{}, err
	}
	raw, _ := io.ReadAll(zr)
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(s.answers) > 0 {
		a := s.answers[0]
		s.answers = s.answers[1:]
		if a != nil {
			var ce *client.Error
			if errors.As(a, &ce) && ce.Status == 400 {
				// Point at the first line that says "bad".
				for i, l := range lines {
					if strings.Contains(l, "bad") {
						ce.Body.Line = i + 1
					}
				}
			}
			return wire.IngestResponse{}, a
		}
	}
	s.got = append(s.got, lines)
	return wire.IngestResponse{Received: len(lines), Stored: len(lines)}, nil
}

func newSpool(t *testing.T, recs ...string) *spool.Spool {
	t.Helper()
	cfg := spool.DefaultConfig()
	cfg.Dir, cfg.Sync = t.TempDir(), false
	sp, err := spool.Open(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	for _, r := range recs {
		if err := sp.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	return sp
}

func records(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"n":%d}`, i)
	}
	return out
}

func TestDrain(t *testing.T) {
	cases := []struct {
		name      string
		recs      []string
		answers   []error
		wantErr   bool
		delivered int
		rejected  int
		left      int
	}{
		{name: "all at once", recs: records(5), delivered: 5},
		{name: "server down keeps everything", recs: records(5), answers: []error{errors.New("connection refused")}, wantErr: true, left: 5},
		{name: "5xx keeps everything", recs: records(3), answers: []error{&client.Error{Status: 503}}, wantErr: true, left: 3},
		{name: "401 keeps everything", recs: records(3), answers: []error{&client.Error{Status: 401}}, wantErr: true, left: 3},
		{name: "malformed record kept aside", recs: []string{`{"n":0}`, `{"bad":1}`, `{"n":2}`}, answers: []error{&client.Error{Status: 400}}, delivered: 2, rejected: 1},
		{name: "too large halves the batch", recs: records(8), answers: []error{&client.Error{Status: 413}}, delivered: 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sp := newSpool(t, c.recs...)
			srv := &server{answers: c.answers}
			cfg := DefaultConfig()
			rej := filepath.Join(t.TempDir(), "rejected.ndjson")
			sh := New(cfg, sp, srv, rej, logging.Discard())
			err := sh.Drain(context.Background())
			if (err != nil) != c.wantErr {
				t.Fatalf("Drain: %v, want error %v", err, c.wantErr)
			}
			n := 0
			for _, b := range srv.got {
				n += len(b)
			}
			if n != c.delivered || sp.Len() != c.left || int(sh.Shipped()) != c.delivered+c.rejected {
				t.Fatalf("delivered %d (want %d), left %d (want %d), shipped %d", n, c.delivered, sp.Len(), c.left, sh.Shipped())
			}
			b, _ := os.ReadFile(rej)
			if got := strings.Count(string(b), "\n"); got != c.rejected {
				t.Fatalf("%d records kept aside, want %d: %q", got, c.rejected, b)
			}
			if c.name == "too large halves the batch" && (len(srv.got) < 2 || len(srv.got[0]) != 4) {
				t.Fatalf("batches after 413: %v", srv.got)
			}
		})
	}
}

func TestBackoffGrowsWithJitterWithinBounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MinBackoff, cfg.MaxBackoff = time.Second, 8*time.Second
	d := time.Duration(0)
	for i := 0; i < 20; i++ {
		d = nextBackoff(d, cfg)
		if d < cfg.MinBackoff/2 || d > cfg.MaxBackoff {
			t.Fatalf("step %d: %v outside [%v, %v]", i, d, cfg.MinBackoff/2, cfg.MaxBackoff)
		}
	}
	if d < cfg.MaxBackoff/2 {
		t.Fatalf("back-off did not grow: %v", d)
	}
}

func TestRetryWaitHonoursRetryAfter(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MinBackoff, cfg.MaxBackoff = time.Second, time.Minute
	busy := func(after time.Duration) error {
		return fmt.Errorf("POST ingest: %w", &client.Error{Status: http.StatusTooManyRequests, RetryAfter: after})
	}
	cases := []struct {
		name     string
		err      error
		prev     time.Duration
		min, max time.Duration
	}{
		{"429 waits Retry-After plus jitter", busy(3 * time.Second), 0, 3 * time.Second, 3*time.Second + 750*time.Millisecond},
		{"429 replaces a long back-off", busy(time.Second), 40 * time.Second, time.Second, 1250 * time.Millisecond},
		{"429 asking past the maximum waits the maximum", busy(time.Hour), 0, time.Minute, time.Minute},
		{"429 without Retry-After backs off", busy(0), 4 * time.Second, 4 * time.Second, 8 * time.Second},
		{"503 backs off", &client.Error{Status: http.StatusServiceUnavailable, RetryAfter: 2 * time.Second}, 4 * time.Second, 4 * time.Second, 8 * time.Second},
		{"network error backs off", errors.New("connection refused"), 0, cfg.MinBackoff / 2, cfg.MinBackoff},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 50 {
				if d := retryWait(c.err, c.prev, cfg); d < c.min || d > c.max {
					t.Fatalf("%v outside [%v, %v]", d, c.min, c.max)
				}
			}
		})
	}
}
