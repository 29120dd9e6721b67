package ship

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lachan/agent/client"
	"lachan/internal/logging"
	"lachan/internal/wire"
)

var _ WrapSender = (*client.Client)(nil)

// fakeClock is a clock whose sleeps move time on at once.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t, c.slept = c.t.Add(d), c.slept+d
	return nil
}

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestLimiterClock reads bodies through the limiter on a fake clock: the
// time they take is what the rate says, once the first burst is spent.
func TestLimiterClock(t *testing.T) {
	cases := []struct {
		rate  int64
		size  int
		pause time.Duration // idle before the read: the bucket refills, but only to its burst
	}{
		{rate: 100_000, size: 1_000_000},
		{rate: 1024, size: 10_000},
		{rate: 4 << 20, size: 64 << 20},
		{rate: 100_000, size: 1_000_000, pause: time.Hour},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d B/s %d B idle %s", c.rate, c.size, c.pause), func(t *testing.T) {
			clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			lim := newLimiter(c.rate, clk.now, clk.sleep)
			clk.advance(c.pause)
			start := clk.now()
			r := &limitedReader{ctx: context.Background(), r: bytes.NewReader(make([]byte, c.size)), lim: lim}
			n, err := io.Copy(io.Discard, r)
			if err != nil || n != int64(c.size) {
				t.Fatalf("copied %d, %v", n, err)
			}
			got := clk.now().Sub(start).Seconds()
			want := (float64(c.size) - lim.burst) / float64(c.rate)
			if math.Abs(got-want) > 0.01*want+0.001 {
				t.Fatalf("took %.3f s of clock, want %.3f s", got, want)
			}
		})
	}
}

// TestShipperCapOnTheWire ships incompressible records to an HTTP server
// under a cap and measures, on the server, how long the bytes took to
// arrive. The bound is one-sided plus a generous ceiling: a loaded machine
// makes a transfer slower, never faster.
func TestShipperCapOnTheWire(t *testing.T) {
	const rate = 256 << 10
	var mu sync.Mutex
	var received int64
	var first, last time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			mu.Lock()
			if n > 0 {
				if first.IsZero() {
					first = time.Now()
				}
				received, last = received+int64(n), time.Now()
			}
			mu.Unlock()
			if err != nil {
				break
			}
		}
		fmt.Fprint(w, `{"received":1}`)
	}))
	defer srv.Close()

	var recs []string
	for range 40 {
		b := make([]byte, 12<<10) // random: gzip cannot shrink it
		rand.Read(b)
		recs = append(recs, fmt.Sprintf(`{"x":"%x"}`, b)) // hex halves gzip's gain at most
	}
	sp := newSpool(t, recs...)
	cfg := DefaultConfig()
	cfg.MaxBytesPerSecond = rate
	sh := New(cfg, sp, httpSender{srv.URL}, filepath.Join(t.TempDir(), "rejected"), logging.Discard())
	start := time.Now()
	if err := sh.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	floor := time.Duration((float64(received) - float64(rate)/4) / rate * float64(time.Second))
	t.Logf("%d bytes in %s (on the server %s); the cap allows no less than %s", received, took, last.Sub(first), floor)
	if received < 400<<10 {
		t.Fatalf("only %d bytes shipped; the test needs more to measure", received)
	}
	if took < floor*9/10 {
		t.Fatalf("%d bytes in %s: faster than %d B/s allows (%s)", received, took, rate, floor)
	}
	if took > 10*floor+5*time.Second {
		t.Fatalf("%d bytes in %s: far slower than the cap", received, took)
	}
}

// httpSender posts batches over plain HTTP through the shipper's wrapper.
type httpSender struct{ url string }

func (h httpSender) Ingest(ctx context.Context, body []byte) (wire.IngestResponse, error) {
	return h.IngestWrapped(ctx, body, nil)
}

func (h httpSender) IngestWrapped(ctx context.Context, body []byte, wrap func(io.Reader) io.Reader) (wire.IngestResponse, error) {
	var r io.Reader = bytes.NewReader(body)
	if wrap != nil {
		r = wrap(r)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, r)
	if err != nil {
		return wire.IngestResponse{}, err
	}
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return wire.IngestResponse{}, err
	}
	resp.Body.Close()
	return wire.IngestResponse{Received: 1}, nil
}
