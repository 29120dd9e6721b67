package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"lachan/internal/event"
	"lachan/internal/wire"
)

// maxGroupEvents bounds the events one group commit takes from the queue
// (events and their alerts); a single batch larger than that is committed
// alone.
const maxGroupEvents = 5000

// job is one detected batch waiting for its commit. wake is closed once:
// either when the batch is committed (resp and err are set) or when the
// batch is handed the lead (lead is set), in which case it commits itself
// and whatever waits behind it.
type job struct {
	evs, alerts []event.Event
	resp        wire.IngestResponse
	err         error
	lead        bool
	wake        chan struct{}
}

// committer lets concurrent batches share one store write: the first
// batch to arrive while no commit is under way leads, taking every batch
// queued behind it (up to maxGroupEvents) into one commit, then hands the
// lead to the first batch that queued meanwhile. No goroutine outlives a
// request.
type committer struct {
	mu      sync.Mutex
	queue   []*job
	leading bool
}

// commit files and stores a detected batch together with whichever
// batches wait at the same time, and returns the batch's own answer once
// the shared write is durable.
func (p *Pipeline) commit(ctx context.Context, evs, alerts []event.Event) (wire.IngestResponse, error) {
	j := &job{evs: evs, alerts: alerts, wake: make(chan struct{})}
	c := &p.committer
	c.mu.Lock()
	c.queue = append(c.queue, j)
	if c.leading {
		c.mu.Unlock()
		<-j.wake
		if !j.lead {
			return j.resp, j.err
		}
	} else {
		c.leading = true
		c.mu.Unlock()
	}
	p.lead(ctx, j)
	return j.resp, j.err
}

// lead commits the group headed by self and hands the lead on.
func (p *Pipeline) lead(ctx context.Context, self *job) {
	c := &p.committer
	c.mu.Lock()
	n, size := 0, 0
	for n < len(c.queue) && (n == 0 || size+len(c.queue[n].evs)+len(c.queue[n].alerts) <= maxGroupEvents) {
		size += len(c.queue[n].evs) + len(c.queue[n].alerts)
		n++
	}
	group := slices.Clone(c.queue[:n])
	c.queue = slices.Delete(c.queue, 0, n)
	c.mu.Unlock()

	defer p.handOn(group, self)
	// One client leaving must not fail the others' commit.
	p.commitGroup(context.WithoutCancel(ctx), group)
}

// handOn hands the lead to the first batch queued behind group and wakes
// group's batches. A panic in the commit (the request's own handler
// recovers it) fails the group's batches instead of leaving them and
// every later batch waiting.
func (p *Pipeline) handOn(group []*job, self *job) {
	if r := recover(); r != nil {
		for _, j := range group {
			j.resp, j.err = wire.IngestResponse{Received: len(j.evs)}, fmt.Errorf("commit: %v", r)
		}
		defer panic(r)
	}
	c := &p.committer
	c.mu.Lock()
	if len(c.queue) > 0 {
		next := c.queue[0]
		next.lead = true
		close(next.wake)
	} else {
		c.leading = false
	}
	c.mu.Unlock()
	for _, j := range group {
		if j != self {
			close(j.wake)
		}
	}
}

// commitGroup runs the serialised part of Process over the group's
// batches as one batch and shares the answer out: each event and alert
// counts as stored for the first batch of the group that carries its ID.
func (p *Pipeline) commitGroup(ctx context.Context, group []*job) {
	var evs, alerts []event.Event
	if len(group) == 1 {
		evs, alerts = group[0].evs, group[0].alerts
	} else {
		for _, j := range group {
			evs = append(evs, j.evs...)
			alerts = append(alerts, j.alerts...)
		}
	}
	stored, err := p.store(ctx, evs, alerts)
	if err != nil {
		for _, j := range group {
			j.resp, j.err = wire.IngestResponse{Received: len(j.evs)}, err
		}
		return
	}
	fresh := make(map[string]bool, len(stored))
	for _, ev := range stored {
		fresh[ev.ID] = true
	}
	for _, j := range group {
		j.resp = wire.IngestResponse{Received: len(j.evs)}
		for _, ev := range j.evs {
			if fresh[ev.ID] {
				delete(fresh, ev.ID)
				j.resp.Stored++
			}
		}
		for _, al := range j.alerts {
			if fresh[al.ID] {
				delete(fresh, al.ID)
				j.resp.Alerts++
			}
		}
		j.resp.Duplicates = len(j.evs) - j.resp.Stored
	}
	if len(stored) > 0 {
		p.log.Debug("group stored", "batches", len(group), "received", len(evs), "stored", len(stored))
	}
}

// store is the serialised part of Process, under p.mu. Order matters for
// retries: alerts not yet stored are filed into incidents first (filing
// is idempotent by alert ID), then events and alerts are stored in one
// call, then network records are attached to open incidents (also
// idempotent).
func (p *Pipeline) store(ctx context.Context, evs, alerts []event.Event) ([]event.Event, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fresh, err := p.unstored(ctx, alerts)
	if err != nil {
		return nil, err
	}
	if _, err := p.incidents.Raise(ctx, fresh); err != nil {
		return nil, fmt.Errorf("raise incidents: %w", err)
	}
	stored, err := p.st.PutEvents(ctx, slices.Concat(evs, alerts))
	if err != nil {
		return nil, fmt.Errorf("store batch: %w", err)
	}
	if _, err := p.incidents.AttachNetwork(ctx, evs); err != nil {
		return nil, fmt.Errorf("attach network evidence: %w", err)
	}
	return stored, nil
}
