package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
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
	enrollThrottled   atomic.Int64
	firstError        atomic.Pointer[string]
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
	rate       float64 // events a second; 0 for an idle agent
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
	var (
		batchLat, checkLat []time.Duration
		acked              uint64 // events 0..acked-1 are acknowledged
		zw                 = gzip.NewWriter(io.Discard)
		buf                bytes.Buffer
		line               []byte
	)
	perTick := s.rate * s.interval.Seconds()
	firstShip := s.start.Add(rand.N(s.interval))
	// made is what the agent has made by t: each tick (from its phase,
	// every interval, before s.end) adds an interval's events, whether or
	// not the agent is waiting on the server then, as a real agent's
	// collectors go on filling its spool.
	made := func(t time.Time) uint64 {
		if s.rate == 0 || t.Before(firstShip) {
			return 0
		}
		if !t.Before(s.end) {
			t = s.end.Add(-time.Nanosecond)
		}
		return uint64(float64(t.Sub(firstShip)/s.interval+1) * perTick)
	}
	defer func() {
		c.offered.Add(int64(made(s.end)))
		c.mu.Lock()
		c.batch = append(c.batch, batchLat...)
		c.checkin = append(c.checkin, checkLat...)
		c.mu.Unlock()
	}()
	nextCheck := s.start.Add(rand.N(s.checkin))
	nextShip := s.end
	if s.rate > 0 {
		nextShip = firstShip
	}
	for {
		at := nextCheck
		if nextShip.Before(at) {
			at = nextShip
		}
		if !at.Before(s.end) || sleep(ctx, time.Until(at)) != nil {
			return
		}
		if !nextCheck.After(at) {
			t0 := time.Now()
			if err := a.checkIn(ctx, int64(acked)); err != nil {
				c.fail(fmt.Errorf("check-in: %w", err))
			} else {
				checkLat = append(checkLat, time.Since(t0))
				c.checkins.Add(1)
			}
			nextCheck = nextCheck.Add(s.checkin)
		}
		if nextShip.After(at) {
			continue
		}
		for acked < made(time.Now()) && ctx.Err() == nil && time.Now().Before(s.end) {
			n := int(min(made(time.Now())-acked, uint64(s.batchMax)))
			body, err := encode(t, zw, &buf, &line, acked, n)
			if err != nil {
				c.fail(err)
				return
			}
			t0 := time.Now()
			resp, err := a.ingest(ctx, body)
			var se *statusError
			if errors.As(err, &se) && se.status == http.StatusTooManyRequests {
				c.throttled.Add(1)
				if sleep(ctx, se.retryAfter) != nil {
					return
				}
				continue
			}
			if err != nil {
				c.fail(fmt.Errorf("ingest: %w", err))
				break // kept for the next shipment, as the agent's spool keeps it
			}
			batchLat = append(batchLat, time.Since(t0))
			c.batches.Add(1)
			c.sent.Add(int64(resp.Received))
			c.stored.Add(int64(resp.Stored))
			c.alerts.Add(int64(resp.Alerts))
			acked += uint64(n)
		}
		for !nextShip.After(time.Now()) {
			nextShip = nextShip.Add(s.interval)
		}
	}
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
