package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"lachan/server/store"
)

// Store entity kinds of the outbox.
const (
	KindOutbox  = "forward.outbox"
	KindAttempt = "forward.attempt"
)

// Entry states.
const (
	StatePending   = "pending"
	StateDelivered = "delivered"
	// StateRefused: the upstream refused the bundle itself (a 4xx other
	// than 408/429); retrying would not help, the next revision goes on.
	StateRefused = "refused"
)

// Entry is one bundle to deliver: one revision of one object. Its ID is
// the stream and the revision, so entries of a stream list in order and a
// second decision to send the same revision writes nothing.
type Entry struct {
	ID       string          `json:"id"`
	Stream   string          `json:"stream"`
	Seq      uint64          `json:"seq"`
	Object   string          `json:"object"`
	Modified time.Time       `json:"modified"`
	Bundle   json.RawMessage `json:"bundle"`
	Created  time.Time       `json:"created"`
	State    string          `json:"state"`
	Attempts int             `json:"attempts"`
	NextAt   time.Time       `json:"next_at"`
	LastErr  string          `json:"last_error,omitempty"`
	Done     time.Time       `json:"done,omitzero"`
	Receipt  *Receipt        `json:"receipt,omitempty"`
	Version  uint64          `json:"-"`
}

// EntryID names the entry of revision seq of a stream.
func EntryID(stream string, seq uint64) string { return fmt.Sprintf("%s/%020d", stream, seq) }

// Attempt is the audit record of one delivery attempt.
type Attempt struct {
	Entry    string        `json:"entry"`
	Object   string        `json:"object"`
	At       time.Time     `json:"at"`
	Target   string        `json:"target"`
	Outcome  string        `json:"outcome"` // delivered, retry, refused
	Status   int           `json:"status,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Outbox keeps entries in the store and delivers them through an adapter.
type Outbox struct {
	st   store.Store
	ad   Adapter
	cfg  DeliveryConfig
	log  *slog.Logger
	now  func() time.Time
	rnd  func() float64
	wake chan struct{}
	// heads are the newest entries of the streams Head or Enqueue met,
	// so that Head reads a stream from there on.
	headsMu sync.Mutex
	heads   map[string]streamHead
	// health is what coverage reads of layer 4 (Healthy).
	health linkHealth
}

// NewOutbox returns an outbox; now is the clock (time.Now when nil).
func NewOutbox(st store.Store, ad Adapter, cfg DeliveryConfig, log *slog.Logger, now func() time.Time) *Outbox {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{st: st, ad: ad, cfg: cfg, log: log.With("component", "outbox"), now: now, rnd: rand.Float64, wake: make(chan struct{}, 1), heads: map[string]streamHead{}}
}

// SetJitter replaces the jitter source (a value in [0,1)), for tests.
func (o *Outbox) SetJitter(f func() float64) { o.rnd = f }

// Enqueue records an entry. It returns false when that revision of that
// stream is already recorded, which is no error: deciding twice to send
// the same revision sends it once.
func (o *Outbox) Enqueue(ctx context.Context, e Entry) (bool, error) {
	e.ID = EntryID(e.Stream, e.Seq)
	e.State, e.Created, e.NextAt = StatePending, o.now().UTC(), o.now().UTC()
	doc, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	if _, err := o.st.PutEntity(ctx, KindOutbox, e.ID, doc, 0); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return false, nil
		}
		return false, fmt.Errorf("outbox %s: %w", e.ID, err)
	}
	o.headsMu.Lock()
	if h := o.heads[e.Stream]; e.Seq > h.seq {
		o.heads[e.Stream] = streamHead{e.Seq, e.Modified}
	}
	o.headsMu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true, nil
}

// headBatch is how many entries of a stream Head reads at once.
const headBatch = 64

// Head returns the newest entry's revision and modified time of a stream
// (zero when it has none). It reads that stream's entries only, from the
// newest one it knew of on: Prune keeps the newest entry of every
// stream, and entries enqueued by other servers on the same store are
// read when they are there.
func (o *Outbox) Head(ctx context.Context, stream string) (streamHead, error) {
	prefix := stream + "/"
	o.headsMu.Lock()
	h, known := o.heads[stream]
	o.headsMu.Unlock()
	after := prefix
	if known && h.seq > 0 {
		after = EntryID(stream, h.seq-1)
	}
	for {
		ents, err := store.ListEntitiesAfter(ctx, o.st, KindOutbox, after, headBatch)
		if err != nil {
			return h, fmt.Errorf("outbox stream %s: %w", stream, err)
		}
		for _, ent := range ents {
			if !strings.HasPrefix(ent.ID, prefix) {
				return o.knowHead(stream, h), nil
			}
			after = ent.ID
			var e struct {
				Seq      uint64    `json:"seq"`
				Modified time.Time `json:"modified"`
			}
			if err := json.Unmarshal(ent.Doc, &e); err != nil {
				return h, fmt.Errorf("outbox %s: stored entry: %w", ent.ID, err)
			}
			if e.Seq > h.seq {
				h = streamHead{e.Seq, e.Modified}
			}
		}
		if len(ents) < headBatch {
			return o.knowHead(stream, h), nil
		}
	}
}

// knowHead records h as stream's head unless a newer one is known.
func (o *Outbox) knowHead(stream string, h streamHead) streamHead {
	o.headsMu.Lock()
	defer o.headsMu.Unlock()
	if old, ok := o.heads[stream]; ok && old.seq > h.seq {
		return old
	}
	o.heads[stream] = h
	return h
}

// Entries lists every entry, by stream and revision.
func (o *Outbox) Entries(ctx context.Context) ([]Entry, error) {
	ents, err := o.st.ListEntities(ctx, KindOutbox)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out := make([]Entry, 0, len(ents))
	for _, ent := range ents {
		var e Entry
		if err := json.Unmarshal(ent.Doc, &e); err != nil {
			return nil, fmt.Errorf("outbox %s: stored entry: %w", ent.ID, err)
		}
		e.Version = ent.Version
		out = append(out, e)
	}
	return out, nil
}

// Attempts lists the audit records of every attempt, oldest entry first.
func (o *Outbox) Attempts(ctx context.Context) ([]Attempt, error) {
	ents, err := o.st.ListEntities(ctx, KindAttempt)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	out := make([]Attempt, 0, len(ents))
	for _, ent := range ents {
		var a Attempt
		if err := json.Unmarshal(ent.Doc, &a); err != nil {
			return nil, fmt.Errorf("attempt %s: %w", ent.ID, err)
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b Attempt) int { return a.At.Compare(b.At) })
	return out, nil
}

// DeliverDue makes one pass: in every stream, the first undelivered entry
// is sent when due, and the ones after it in turn while they succeed. A
// failed entry holds back the rest of its stream, so a later revision
// never overtakes an earlier one; a failure that is not the bundle's own
// fault ends the pass, since the upstream is then likely down for all.
// It returns how many entries were delivered.
func (o *Outbox) DeliverDue(ctx context.Context) (int, error) {
	entries, err := o.Entries(ctx)
	if err != nil {
		return 0, err
	}
	delivered := 0
	blocked := map[string]bool{}
	for i := range entries {
		e := &entries[i]
		if e.State != StatePending || blocked[e.Stream] {
			continue
		}
		if e.NextAt.After(o.now()) {
			blocked[e.Stream] = true
			continue
		}
		ok, down, err := o.attempt(ctx, e)
		if err != nil {
			return delivered, err
		}
		if ok {
			delivered++
			continue
		}
		if down {
			return delivered, nil
		}
		if e.State == StatePending {
			blocked[e.Stream] = true
		}
	}
	return delivered, nil
}

// attempt sends one entry and records the outcome; down reports a failure
// the upstream is to blame for.
func (o *Outbox) attempt(ctx context.Context, e *Entry) (ok, down bool, err error) {
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(e.Bundle))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil {
		return false, false, fmt.Errorf("outbox %s: stored bundle: %w", e.ID, err)
	}
	start := o.now()
	sendCtx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	rc, sendErr := o.ad.Send(sendCtx, b)
	cancel()
	if ctx.Err() != nil {
		return false, false, ctx.Err()
	}
	now := o.now().UTC()
	e.Attempts++
	a := Attempt{Entry: e.ID, Object: e.Object, At: now, Target: o.ad.Name(), Duration: now.Sub(start)}
	switch {
	case sendErr == nil:
		e.State, e.Done, e.Receipt, e.LastErr = StateDelivered, now, &rc, ""
		a.Outcome, a.Status = "delivered", rc.HTTPStatus
	case permanent(sendErr):
		e.State, e.Done, e.LastErr = StateRefused, now, sendErr.Error()
		a.Outcome, a.Status, a.Error = "refused", statusOf(sendErr), sendErr.Error()
		o.log.Error("upstream refused a bundle; the stream goes on without it", "entry", e.ID, "err", sendErr)
	default:
		e.NextAt, e.LastErr = now.Add(o.backoff(e.Attempts)), sendErr.Error()
		a.Outcome, a.Status, a.Error = "retry", statusOf(sendErr), sendErr.Error()
		o.log.Warn("delivery failed; will retry", "entry", e.ID, "attempts", e.Attempts, "next", e.NextAt, "err", sendErr)
	}
	o.health.record(sendErr == nil || permanent(sendErr), now, a.Error)
	if err := o.audit(ctx, a, e.Attempts); err != nil {
		return false, false, err
	}
	if err := o.save(ctx, e); err != nil {
		return false, false, err
	}
	return sendErr == nil, sendErr != nil && !permanent(sendErr), nil
}

// backoff doubles from MinBackoff per failed attempt up to MaxBackoff and
// takes a random point in its upper half, so that many servers coming
// back together do not retry in step.
func (o *Outbox) backoff(attempts int) time.Duration {
	d := o.cfg.MinBackoff
	for i := 1; i < attempts && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	return d/2 + time.Duration(o.rnd()*float64(d/2))
}

func (o *Outbox) audit(ctx context.Context, a Attempt, n int) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return err
	}
	id := fmt.Sprintf("%s/%08d", a.Entry, n)
	if _, err := o.st.PutEntity(ctx, KindAttempt, id, doc, 0); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("audit %s: %w", id, err)
	}
	return nil
}

func (o *Outbox) save(ctx context.Context, e *Entry) error {
	doc, err := json.Marshal(e)
	if err != nil {
		return err
	}
	v, err := o.st.PutEntity(ctx, KindOutbox, e.ID, doc, e.Version)
	if err != nil {
		return fmt.Errorf("outbox %s: %w", e.ID, err)
	}
	e.Version = v
	return nil
}

// Run delivers until ctx ends: a pass whenever an entry is enqueued or
// falls due, and at least every PollInterval.
func (o *Outbox) Run(ctx context.Context) error {
	for {
		if _, err := o.DeliverDue(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			o.log.Error("delivery pass", "err", err)
		}
		wait := o.nextWait(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-o.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (o *Outbox) nextWait(ctx context.Context) time.Duration {
	wait := o.cfg.PollInterval
	entries, err := o.Entries(ctx)
	if err != nil {
		return wait
	}
	now := o.now()
	for _, e := range entries {
		if e.State == StatePending {
			wait = min(wait, max(e.NextAt.Sub(now), 10*time.Millisecond))
		}
	}
	return wait
}

// Prune removes delivered and refused entries finished before cutoff,
// keeping the newest of each stream (it tells which revision went last),
// and their attempt records.
func (o *Outbox) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	entries, err := o.Entries(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, e := range entries {
		lastOfStream := i+1 == len(entries) || entries[i+1].Stream != e.Stream
		if e.State == StatePending || lastOfStream || !e.Done.Before(cutoff) {
			continue
		}
		for a := 1; a <= e.Attempts; a++ {
			if err := o.st.DeleteEntity(ctx, KindAttempt, fmt.Sprintf("%s/%08d", e.ID, a)); err != nil {
				return n, err
			}
		}
		if err := o.st.DeleteEntity(ctx, KindOutbox, e.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
