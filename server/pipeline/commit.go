package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/store"
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

// committer lets concurrent batches share one filing and one store write:
// the first batch to arrive while no group is being filed leads, taking
// every batch queued behind it (up to maxGroupEvents) into one group; once
// the group's alerts are filed it hands the lead to the first batch that
// queued meanwhile, which files the next group while this one is stored.
// No goroutine outlives a request.
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

// lead commits the group headed by self, handing the lead on once the
// group's alerts are filed.
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

	handed := false
	defer p.finish(group, self, &handed)
	// One client leaving must not fail the others' commit.
	p.commitGroup(context.WithoutCancel(ctx), group, func() {
		p.handLead()
		handed = true
	})
}

// handLead hands the lead to the first batch queued, if any.
func (p *Pipeline) handLead() {
	c := &p.committer
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) > 0 {
		next := c.queue[0]
		next.lead = true
		close(next.wake)
	} else {
		c.leading = false
	}
}

// finish hands the lead on if the group has not done so yet and wakes the
// group's batches. A panic in the commit (the request's own handler
// recovers it) fails the group's batches instead of leaving them and
// every later batch waiting.
func (p *Pipeline) finish(group []*job, self *job, handed *bool) {
	if r := recover(); r != nil {
		for _, j := range group {
			j.resp, j.err = wire.IngestResponse{Received: len(j.evs)}, fmt.Errorf("commit: %v", r)
		}
		defer panic(r)
	}
	if !*handed {
		p.handLead()
	}
	for _, j := range group {
		if j != self {
			close(j.wake)
		}
	}
}

// commitGroup runs the serialised part of Process over the group's
// batches as one batch and shares the answer out: each event and alert
// counts as stored for the first batch of the group that carries its ID.
// filed is called once the group's alerts are filed.
func (p *Pipeline) commitGroup(ctx context.Context, group []*job, filed func()) {
	var evs, alerts []event.Event
	if len(group) == 1 {
		evs, alerts = group[0].evs, group[0].alerts
	} else {
		for _, j := range group {
			evs = append(evs, j.evs...)
			alerts = append(alerts, j.alerts...)
		}
	}
	stored, err := p.store(ctx, evs, alerts, filed)
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

// store is the serialised part of Process. Order matters for retries:
// alerts not yet stored are filed into incidents first, under p.mu
// (filing is idempotent by alert ID), then, under p.storing, events and
// the alerts filed are stored in one call, then network records are attached to
// open incidents (also idempotent). p.storing is taken before p.mu is let
// go, and filed called between, so that the next group files its alerts
// while this one is stored, and groups are stored in the order they were
// filed. Filing and storing wait mostly on the store's durable writes,
// which overlap so.
func (p *Pipeline) store(ctx context.Context, evs, alerts []event.Event, filed func()) ([]event.Event, error) {
	alerts, err := p.file(ctx, alerts)
	if err != nil {
		filed()
		return nil, err
	}
	defer p.storing.Unlock()
	filed()
	stored, err := p.st.PutEvents(ctx, slices.Concat(evs, alerts))
	if err != nil {
		return nil, fmt.Errorf("store batch: %w", err)
	}
	if _, err := p.incidents.AttachNetwork(ctx, evs); err != nil {
		return nil, fmt.Errorf("attach network evidence: %w", err)
	}
	return stored, nil
}

// file files the alerts not yet stored into incidents under p.mu and, when
// it succeeds, returns them (the alerts to store) holding p.storing.
func (p *Pipeline) file(ctx context.Context, alerts []event.Event) ([]event.Event, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fresh, err := p.unstored(ctx, alerts, true)
	if err != nil {
		return nil, err
	}
	// The incident writes need not be durable one by one: the store's
	// PutEvents right after makes them durable before the batch is
	// acknowledged, and a batch never acknowledged is sent again and
	// filed again (filing is idempotent).
	if _, err := p.incidents.Raise(store.DeferSync(ctx), fresh); err != nil {
		return nil, fmt.Errorf("raise incidents: %w", err)
	}
	p.storing.Lock()
	return fresh, nil
}
