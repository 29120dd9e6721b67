package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// counts are what the agents of a run did; the slices are merged from
// each agent's own at its end.
type counts struct {
	mu                sync.Mutex
	batch, checkin    []time.Duration
	sent, stored      atomic.Int64
	alerts, offered   atomic.Int64
	batches, checkins atomic.Int64
	errors, throttled atomic.Int64
	// refusedBytes counts body bytes of batches answered 429.
	refusedBytes    atomic.Int64
	enrollThrottled atomic.Int64
	firstError      atomic.Pointer[string]
	// settled holds the latencies of the batches sent after the
	// schedule's settled time, and settled429 the refusals then.
	settled    []time.Duration
	settled429 atomic.Int64
}

func (c *counts) fail(err error) {
	c.errors.Add(1)
	s := err.Error()
	c.firstError.CompareAndSwap(nil, &s)
}

// enrollAll enrolls n agents, workers at a time; agent i uses secret
// i mod len(secrets).
func enrollAll(ctx context.Context, cfg *config, base string, pool *x509.CertPool, c *counts) ([]*agent, error) {
	n := cfg.agents + cfg.idle
	agents := make([]*agent, n)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	errs := make(chan error, cfg.enrollWorkers)
	for range cfg.enrollWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				var src net.IP
				if cfg.sources {
					src = sourceAddr(i)
				}
				a, err := enroll(ctx, i, base, pool, cfg.secrets[i%len(cfg.secrets)], src, func() { c.enrollThrottled.Add(1) })
				if err != nil {
					errs <- err
					return
				}
				agents[i] = a
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return agents, ctx.Err()
}

// schedule is one agent's part of the timed phase.
type schedule struct {
	start, end time.Time
	settled    time.Time // from when batches are also counted apart
	rate       float64   // events a second; 0 for an idle agent
	interval   time.Duration
	checkin    time.Duration
	batchMax   int
}

// drive runs one agent from s.start to s.end: check-ins every s.checkin
// and, for a shipping agent, every s.interval (from a random phase) a
// shipment of what its rate made over an interval plus whatever is not
// acknowledged yet, one request at a time. Requests under way at s.end
// are finished, and no new one starts; ctx ends everything.
func drive(ctx context.Context, a *agent, s schedule, t *templates, c *counts) {
	r := &runner{agent: a, s: s, t: t, c: c, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), firstShip: s.start.Add(rand.N(s.interval))}
	defer r.done()
	nextCheck := s.start.Add(rand.N(s.checkin))
	nextShip := s.end
	if s.rate > 0 {
		nextShip = r.firstShip
	}
	for {
		at := nextCheck
		if nextShip.Before(at) {
			at = nextShip
		}
		if !at.Before(s.end) {
			r.finish(ctx)
			return
		}
		if sleep(ctx, time.Until(at)) != nil {
			return
		}
		if !nextCheck.After(at) {
			r.checkIn(ctx)
			nextCheck = nextCheck.Add(s.checkin)
		}
		if nextShip.After(at) {
			continue
		}
		if !r.ship(ctx) {
			return
		}
		for !nextShip.After(time.Now()) {
			nextShip = nextShip.Add(s.interval)
		}
	}
}

// runner is one agent's state while it is driven.
type runner struct {
	*agent
	s                  schedule
	t                  *templates
	c                  *counts
	firstShip          time.Time
	acked              uint64 // events 0..acked-1 are acknowledged
	batchLat, checkLat []time.Duration
	settledLat         []time.Duration
	rng                *rand.Rand
	// buf holds the body of the batch being sent, kept to send it again
	// after a 429.
	buf bytes.Buffer
	// bodyFirst and bodyN name the events buf holds encoded (bodyN 0:
	// none yet).
	bodyFirst uint64
	bodyN     int
}

// made is what the agent has made by t: each tick (from its phase, every
// interval, before s.end) adds an interval's events, whether or not the
// agent is waiting on the server then, as a real agent's collectors go on
// filling its spool.
func (r *runner) made(t time.Time) uint64 {
	if r.s.rate == 0 || t.Before(r.firstShip) {
		return 0
	}
	if !t.Before(r.s.end) {
		t = r.s.end.Add(-time.Nanosecond)
	}
	return uint64(float64(t.Sub(r.firstShip)/r.s.interval+1) * r.s.rate * r.s.interval.Seconds())
}

// done adds the agent's figures to the run's.
func (r *runner) done() {
	r.c.offered.Add(int64(r.made(r.s.end)))
	r.c.mu.Lock()
	r.c.batch = append(r.c.batch, r.batchLat...)
	r.c.settled = append(r.c.settled, r.settledLat...)
	r.c.checkin = append(r.c.checkin, r.checkLat...)
	r.c.mu.Unlock()
}

func (r *runner) checkIn(ctx context.Context) {
	t0 := time.Now()
	if err := r.agent.checkIn(ctx, int64(r.acked)); err != nil {
		r.c.fail(fmt.Errorf("check-in: %w", err))
		return
	}
	r.checkLat = append(r.checkLat, time.Since(t0))
	r.c.checkins.Add(1)
}

// ship sends what is made and not acknowledged, in batches of at most
// s.batchMax, waiting out 429s; a failed batch is kept for the next
// shipment, as the agent's spool keeps it. It returns false when the
// agent is to stop.
func (r *runner) ship(ctx context.Context) bool {
	for r.acked < r.made(time.Now()) && ctx.Err() == nil && time.Now().Before(r.s.end) {
		switch res, wait := r.send(ctx); res {
		case sendFailed:
			return true
		case sendStop:
			return false
		case sendRefused:
			// The spool keeps the batch: sent again after Retry-After.
			if sleep(ctx, wait) != nil {
				return false
			}
		}
	}
	return ctx.Err() == nil
}

// finish sends, once the run has ended, what the agent made before the
// end and the server has not acknowledged: the last interval's events
// when a send ran past the end on a busy machine, as a real agent's spool
// would. Each batch is offered once; one the server refuses (429) or
// fails stays in the backlog the summary reports.
func (r *runner) finish(ctx context.Context) {
	for r.acked < r.made(r.s.end) && ctx.Err() == nil {
		if res, _ := r.send(ctx); res != sendOK {
			return
		}
	}
}

// The outcomes of send.
const (
	sendOK      = iota
	sendRefused // 429: the batch is kept, to be sent again after the wait
	sendFailed  // counted as an error; the batch is kept
	sendStop    // the agent cannot go on
)

// send offers the server the next batch of what the agent made and has
// not had acknowledged; for a batch refused with 429 it returns the
// server's Retry-After.
func (r *runner) send(ctx context.Context) (int, time.Duration) {
	n := int(min(r.made(time.Now())-r.acked, uint64(r.s.batchMax)))
	if r.bodyFirst != r.acked || r.bodyN != n {
		// A batch refused with 429 is sent again as it was, as the
		// agent's spool keeps it: encoded once.
		if _, err := encode(r.t, &r.buf, r.rng, r.acked, n); err != nil {
			r.c.fail(err)
			return sendStop, 0
		}
		r.bodyFirst, r.bodyN = r.acked, n
	}
	body := r.buf.Bytes()
	t0 := time.Now()
	resp, sent, err := r.ingest(ctx, body)
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusTooManyRequests {
		r.c.throttled.Add(1)
		if !t0.Before(r.s.settled) {
			r.c.settled429.Add(1)
		}
		r.c.refusedBytes.Add(sent)
		return sendRefused, se.retryAfter
	}
	if err != nil {
		r.c.fail(fmt.Errorf("ingest: %w", err))
		return sendFailed, 0
	}
	took := time.Since(t0)
	r.batchLat = append(r.batchLat, took)
	if !t0.Before(r.s.settled) {
		r.settledLat = append(r.settledLat, took)
	}
	r.c.batches.Add(1)
	r.c.sent.Add(int64(resp.Received))
	r.c.stored.Add(int64(resp.Stored))
	r.c.alerts.Add(int64(resp.Alerts))
	r.acked += uint64(n)
	return sendOK, 0
}

// percentile returns the p-th percentile (0–100) of d, sorting it.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(float64(len(d))*p/100+0.999999) - 1
	return d[min(max(i, 0), len(d)-1)]
}
