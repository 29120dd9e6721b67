// Package ship moves records from the agent's spool to the server: batches
// of gzip NDJSON, acknowledged in the spool only after the server has
// stored them, retried with exponential back-off and jitter. Delivery is at
// least once; the server removes duplicates by event ID.
package ship

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"lachan/agent/client"
	"lachan/internal/spool"
	"lachan/internal/wire"
)

// Config tunes batching and retries.
type Config struct {
	Interval    time.Duration `mapstructure:"interval"`
	BatchEvents int           `mapstructure:"batch_events"`
	BatchBytes  int           `mapstructure:"batch_bytes"`
	MinBackoff  time.Duration `mapstructure:"min_backoff"`
	MaxBackoff  time.Duration `mapstructure:"max_backoff"`
	// MaxBytesPerSecond caps the upload rate of shipments (the compressed
	// bytes on the wire, before TLS); 0 means no cap.
	MaxBytesPerSecond int64 `mapstructure:"max_bytes_per_second"`
}

// DefaultConfig ships every 10 s in batches of up to 1,000 records.
func DefaultConfig() Config {
	return Config{Interval: 10 * time.Second, BatchEvents: 1000, BatchBytes: 4 << 20, MinBackoff: time.Second, MaxBackoff: 5 * time.Minute}
}

// Validate checks the bounds.
func (c Config) Validate() error {
	if c.Interval <= 0 || c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		return errors.New("ship: interval and back-off must be positive, max_backoff ≥ min_backoff")
	}
	if c.BatchEvents < 1 || c.BatchEvents > wire.MaxIngestEvents {
		return fmt.Errorf("ship.batch_events: 1 to %d", wire.MaxIngestEvents)
	}
	if c.BatchBytes < 1024 || c.BatchBytes > wire.MaxIngestDecodedBytes {
		return fmt.Errorf("ship.batch_bytes: 1 KiB to %d", wire.MaxIngestDecodedBytes)
	}
	if c.MaxBytesPerSecond != 0 && c.MaxBytesPerSecond < 1024 {
		return fmt.Errorf("ship.max_bytes_per_second %d: 0 (no cap) or at least 1024", c.MaxBytesPerSecond)
	}
	return nil
}

// Sender delivers one encoded batch.
type Sender interface {
	Ingest(ctx context.Context, body []byte) (wire.IngestResponse, error)
}

// Shipper drains a spool into a Sender.
type Shipper struct {
	cfg      Config
	sp       *spool.Spool
	send     Sender
	rejected string
	log      *slog.Logger
	wake     chan struct{}
	shipped  atomic.Int64
	mu       sync.Mutex
	lastErr  string
	// batch shrinks after a 413 and grows back after successes.
	batch int
	// lim paces uploads; nil when there is no cap.
	lim *limiter
	// onAck, when set, is told every acknowledgement made in the spool.
	onAck func(upTo uint64)
}

// OnAck has f called, from the shipping goroutine, with the sequence
// number up to which records were acknowledged in the spool, after each
// acknowledgement. Set it before Run.
func (s *Shipper) OnAck(f func(upTo uint64)) { s.onAck = f }

// New returns a shipper; records the server refuses as malformed are kept
// aside, one per line, in rejectedFile instead of blocking the queue.
func New(cfg Config, sp *spool.Spool, send Sender, rejectedFile string, log *slog.Logger) *Shipper {
	s := &Shipper{cfg: cfg, sp: sp, send: send, rejected: rejectedFile, log: log.With("component", "ship"),
		wake: make(chan struct{}, 1), batch: cfg.BatchEvents}
	if cfg.MaxBytesPerSecond > 0 {
		s.lim = newLimiter(cfg.MaxBytesPerSecond, nil, nil)
	}
	return s
}

// ingest sends one body, paced when there is a cap: through the sender's
// reader when it offers one, else by waiting for the whole body first.
func (s *Shipper) ingest(ctx context.Context, body []byte) (wire.IngestResponse, error) {
	if s.lim == nil {
		return s.send.Ingest(ctx, body)
	}
	if ws, ok := s.send.(WrapSender); ok {
		return ws.IngestWrapped(ctx, body, func(r io.Reader) io.Reader { return &limitedReader{ctx: ctx, r: r, lim: s.lim} })
	}
	for left := len(body); left > 0; left -= s.lim.chunk() {
		if err := s.lim.wait(ctx, min(left, s.lim.chunk())); err != nil {
			return wire.IngestResponse{}, err
		}
	}
	return s.send.Ingest(ctx, body)
}

// Notify asks for a shipment soon (new records are in the spool).
func (s *Shipper) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Shipped counts records the server has acknowledged since start.
func (s *Shipper) Shipped() int64 { return s.shipped.Load() }

// LastError is the last delivery error, or "".
func (s *Shipper) LastError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

func (s *Shipper) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.lastErr = ""
	} else {
		s.lastErr = err.Error()
	}
}

// Run ships until ctx ends.
func (s *Shipper) Run(ctx context.Context) {
	backoff := time.Duration(0)
	for {
		wait := s.cfg.Interval
		if backoff > 0 {
			wait = backoff
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
			t.Stop()
			if backoff > 0 {
				continue // still backing off: a new record does not make the server come back sooner
			}
		case <-t.C:
		}
		err := s.Drain(ctx)
		s.setErr(err)
		if err == nil {
			backoff = 0
			continue
		}
		backoff = retryWait(err, backoff, s.cfg)
		s.log.Warn("delivery failed; will retry", "err", err, "retry_in", backoff.Round(time.Millisecond), "queued", s.sp.Len())
	}
}

// nextBackoff doubles up to the maximum and takes a random point in the
// upper half, so that thousands of agents do not come back at once.
func nextBackoff(prev time.Duration, cfg Config) time.Duration {
	d := prev * 2
	if d < cfg.MinBackoff {
		d = cfg.MinBackoff
	}
	if d > cfg.MaxBackoff {
		d = cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// retryWait is how long to wait after a failed delivery: the server's
// Retry-After when it refused a batch as busy (429), plus up to a quarter
// again so that the agents it refused together do not come back together,
// within MaxBackoff so that a server cannot park an agent for longer;
// otherwise the doubling back-off. The refused batch stays in the spool.
func retryWait(err error, prev time.Duration, cfg Config) time.Duration {
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests || ce.RetryAfter <= 0 {
		return nextBackoff(prev, cfg)
	}
	d := min(ce.RetryAfter, cfg.MaxBackoff)
	return min(d+rand.N(d/4+1), cfg.MaxBackoff)
}

// Drain ships batches until the spool is empty or a delivery fails.
func (s *Shipper) Drain(ctx context.Context) error {
	for ctx.Err() == nil {
		recs, err := s.sp.Peek(s.batch, s.cfg.BatchBytes)
		if err != nil {
			return fmt.Errorf("read spool: %w", err)
		}
		if len(recs) == 0 {
			return nil
		}
		if err := s.shipBatch(ctx, recs); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (s *Shipper) shipBatch(ctx context.Context, recs []spool.Record) error {
	skip := map[int]bool{}
	for {
		body, lines, err := encode(recs, skip)
		if err != nil {
			return err
		}
		if len(lines) == 0 {
			return s.ack(recs, 0)
		}
		resp, err := s.ingest(ctx, body)
		if err == nil {
			if s.batch < s.cfg.BatchEvents {
				s.batch = min(s.cfg.BatchEvents, s.batch*2)
			}
			return s.ack(recs, resp.Received)
		}
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Retry() {
			return err
		}
		switch {
		case ce.Status == http.StatusRequestEntityTooLarge && len(recs) > 1:
			s.batch = max(1, len(recs)/2)
			return nil // Drain peeks again with the smaller batch
		case ce.Status == http.StatusBadRequest && ce.Body.Line > 0 && ce.Body.Line <= len(lines):
			bad := lines[ce.Body.Line-1]
			if err := s.reject(recs[bad], ce); err != nil {
				return err
			}
			skip[bad] = true
		default:
			return err // e.g. 401/403: keep everything and retry later
		}
	}
}

func (s *Shipper) ack(recs []spool.Record, received int) error {
	if err := s.sp.Ack(recs[len(recs)-1].Seq); err != nil {
		return fmt.Errorf("acknowledge in spool: %w", err)
	}
	if s.onAck != nil {
		s.onAck(recs[len(recs)-1].Seq)
	}
	s.shipped.Add(int64(len(recs)))
	s.log.Debug("batch delivered", "records", len(recs), "received", received)
	return nil
}

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// encode builds the gzip NDJSON body of the records not skipped and says
// which record each line holds.
func encode(recs []spool.Record, skip map[int]bool) ([]byte, []int, error) {
	var buf bytes.Buffer
	// A compressor's state is most of a megabyte; made afresh for every
	// shipment (once a second with telemetry on) it was the agent's
	// largest allocation and much of its garbage collection.
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	var lines []int
	for i, r := range recs {
		if skip[i] {
			continue
		}
		zw.Write(bytes.TrimRight(r.Data, "\n"))
		zw.Write([]byte{'\n'})
		lines = append(lines, i)
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), lines, nil
}

// reject keeps a record the server refused, durably, before it leaves the
// spool, so that a malformed record never blocks the queue and is never
// silently lost.
func (s *Shipper) reject(r spool.Record, ce *client.Error) error {
	f, err := os.OpenFile(s.rejected, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("keep rejected record: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(append(bytes.TrimRight(r.Data, "\n"), '\n')); err != nil {
		return fmt.Errorf("keep rejected record: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("keep rejected record: %w", err)
	}
	s.log.Error("server refused a record; kept aside", "seq", r.Seq, "reason", ce.Body.Error, "field", ce.Body.Field, "file", s.rejected)
	return nil
}
