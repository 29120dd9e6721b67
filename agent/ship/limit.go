package ship

import (
	"context"
	"io"
	"sync"
	"time"

	"lachan/internal/wire"
)

// limiter is a token bucket of bytes: it fills at rate bytes a second up
// to burst. A taker may leave it in debt; the next one waits the debt off,
// so that the average over any long window stays at rate.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

// newLimiter caps at rate bytes a second; now and sleep are the clock
// (nil: the real one).
func newLimiter(rate int64, now func() time.Time, sleep func(context.Context, time.Duration) error) *limiter {
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	// A quarter of a second's worth: small enough that a slow link never
	// sees a long burst, large enough that reads are not tiny.
	burst := max(float64(rate)/4, 1024)
	return &limiter{rate: float64(rate), burst: burst, tokens: burst, last: now(), now: now, sleep: sleep}
}

// chunk is the most a reader takes at once.
func (l *limiter) chunk() int { return int(l.burst) }

// wait takes n bytes' worth of tokens, sleeping until the bucket has paid
// for them or ctx ends.
func (l *limiter) wait(ctx context.Context, n int) error {
	l.mu.Lock()
	now := l.now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	debt := -l.tokens
	l.mu.Unlock()
	if debt <= 0 {
		return nil
	}
	return l.sleep(ctx, time.Duration(debt/l.rate*float64(time.Second)))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// limitedReader paces reads of r through a limiter.
type limitedReader struct {
	ctx context.Context
	r   io.Reader
	lim *limiter
}

func (lr *limitedReader) Read(p []byte) (int, error) {
	if len(p) > lr.lim.chunk() {
		p = p[:lr.lim.chunk()]
	}
	n, err := lr.r.Read(p)
	if n > 0 {
		if werr := lr.lim.wait(lr.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// WrapSender is a Sender that can read a batch's body through a wrapper,
// which the shipper uses to pace it under Config.MaxBytesPerSecond.
type WrapSender interface {
	IngestWrapped(ctx context.Context, body []byte, wrap func(io.Reader) io.Reader) (wire.IngestResponse, error)
}
