package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"lachan/server/store"
)

// KindMessage is the store entity kind of queued messages.
const KindMessage = "notify-message"

// States of a queued message.
const (
	StatePending = "pending"
	StateSent    = "sent"
	StateDead    = "dead"
)

// ErrNotDead: only a dead message is put back in the queue.
var ErrNotDead = errors.New("only a dead message is tried again")

// ErrNoChannel: a message names a channel that is not configured.
var ErrNoChannel = errors.New("no such notification channel")

// Entry is a queued message with where it stands.
type Entry struct {
	Message  Message `json:"message"`
	State    string  `json:"state"`
	Attempts int     `json:"attempts"`
	// NextAt is when the message is tried next; LeaseUntil, while a sender
	// holds it, when another may take it over.
	NextAt     time.Time `json:"next_at"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
	SentAt     time.Time `json:"sent_at,omitzero"`
	Updated    time.Time `json:"updated"`
	version    uint64
}

// sendFunc delivers one message on one channel.
type sendFunc func(ctx context.Context, ch Channel, m Message, now time.Time) error

// Queue is the durable notification queue over a store. Several servers
// sharing the store may run it: a message is claimed before it is tried.
type Queue struct {
	st    store.Store
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	send  map[string]sendFunc
	wake  chan struct{}
	owner string
}

// NewQueue returns a queue over st; now is the clock (time.Now when nil).
func NewQueue(st store.Store, cfg Config, log *slog.Logger, now func() time.Time) *Queue {
	if now == nil {
		now = time.Now
	}
	return &Queue{
		st: st, cfg: cfg, log: log.With("component", "notify"), now: now,
		send: map[string]sendFunc{TypeEmail: sendMail, TypeWebhook: sendWebhook},
		wake: make(chan struct{}, 1),
	}
}

// HasChannel reports whether a channel of that name is configured.
func (q *Queue) HasChannel(name string) bool { _, ok := q.cfg.Channel(name); return ok }

// Enqueue stores m to be sent. A message whose ID is queued already (sent
// or not) is not queued again: enqueuing is idempotent.
func (q *Queue) Enqueue(ctx context.Context, m Message) error {
	if !q.HasChannel(m.Channel) {
		return fmt.Errorf("notify %s: %w: %q (notify.channels)", m.ID, ErrNoChannel, m.Channel)
	}
	if m.ID == "" {
		return errors.New("notify: a message needs an ID")
	}
	now := q.now().UTC()
	if m.Created.IsZero() {
		m.Created = now
	}
	e := Entry{Message: m, State: StatePending, NextAt: now, Updated: now}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("notify %s: %w", m.ID, err)
	}
	if _, err := q.st.PutEntity(ctx, KindMessage, m.ID, b, 0); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("notify %s: queue: %w", m.ID, err)
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// List returns every queued message, oldest first.
func (q *Queue) List(ctx context.Context) ([]Entry, error) {
	ents, err := q.st.ListEntities(ctx, KindMessage)
	if err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	out := make([]Entry, 0, len(ents))
	for _, en := range ents {
		var e Entry
		if err := json.Unmarshal(en.Doc, &e); err != nil {
			q.log.Error("queued message unreadable; left as it is", "id", en.ID, "err", err)
			continue
		}
		e.version = en.Version
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Message.Created.Before(out[j].Message.Created) })
	return out, nil
}

// Run delivers until ctx ends: at every Config.Poll and whenever a
// message is queued.
func (q *Queue) Run(ctx context.Context) error {
	t := time.NewTicker(q.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := q.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			q.log.Error("notification delivery pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-q.wake:
		}
	}
}

// DeliverDue tries every message that is due and not held by another
// sender, once, and forgets sent and dead messages older than
// Config.Keep. It returns how many it sent.
func (q *Queue) DeliverDue(ctx context.Context) (int, error) {
	all, err := q.List(ctx)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, e := range all {
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
		now := q.now().UTC()
		if e.State != StatePending {
			if now.Sub(e.Updated) > q.cfg.Keep {
				if err := q.st.DeleteEntity(ctx, KindMessage, e.Message.ID); err != nil {
					return sent, fmt.Errorf("notify %s: forget: %w", e.Message.ID, err)
				}
			}
			continue
		}
		if now.Before(e.NextAt) || now.Before(e.LeaseUntil) {
			continue
		}
		ok, err := q.deliver(ctx, e)
		if err != nil {
			return sent, err
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}

// deliver claims one message, tries it and records how it went.
func (q *Queue) deliver(ctx context.Context, e Entry) (bool, error) {
	now := q.now().UTC()
	e.LeaseUntil = now.Add(q.cfg.Lease)
	if err := q.put(ctx, &e); errors.Is(err, store.ErrConflict) {
		return false, nil // another sender has it
	} else if err != nil {
		return false, err
	}
	m := e.Message
	ch, ok := q.cfg.Channel(m.Channel)
	var err error
	if !ok {
		err = permanent{fmt.Errorf("%w: %q", ErrNoChannel, m.Channel)}
	} else {
		sctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
		err = q.send[ch.Type](sctx, ch, m, now)
		cancel()
	}
	e.Attempts++
	e.LeaseUntil = time.Time{}
	e.Updated = q.now().UTC()
	var perm permanent
	switch {
	case err == nil:
		e.State, e.SentAt, e.LastError = StateSent, e.Updated, ""
		q.log.Info("notification sent", "id", m.ID, "channel", m.Channel, "attempts", e.Attempts)
	case errors.As(err, &perm) || e.Attempts >= q.cfg.MaxAttempts:
		e.State, e.LastError = StateDead, err.Error()
		q.log.Error("notification dead: not tried again", "id", m.ID, "channel", m.Channel, "attempts", e.Attempts, "err", err)
	default:
		e.LastError = err.Error()
		e.NextAt = e.Updated.Add(q.backoff(e.Attempts))
		q.log.Warn("notification not sent; will retry", "id", m.ID, "channel", m.Channel, "attempts", e.Attempts, "next", e.NextAt, "err", err)
	}
	// Written even if ctx ended meanwhile: the peer may have the message.
	if err := q.put(context.WithoutCancel(ctx), &e); err != nil {
		return false, fmt.Errorf("notify %s: record attempt: %w", m.ID, err)
	}
	return e.State == StateSent, nil
}

// backoff is the wait after the n-th failed attempt: MinBackoff doubled
// n-1 times, at most MaxBackoff, less up to a fifth at random so that
// servers do not retry in step.
func (q *Queue) backoff(n int) time.Duration {
	d := q.cfg.MinBackoff
	for i := 1; i < n && d < q.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, q.cfg.MaxBackoff)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

func (q *Queue) put(ctx context.Context, e *Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	v, err := q.st.PutEntity(ctx, KindMessage, e.Message.ID, b, e.version)
	if err != nil {
		return fmt.Errorf("notify %s: %w", e.Message.ID, err)
	}
	e.version = v
	return nil
}

// Retry puts a dead message back in the queue, to be tried now.
func (q *Queue) Retry(ctx context.Context, id string) error {
	doc, ver, err := q.st.GetEntity(ctx, KindMessage, id)
	if err != nil {
		return fmt.Errorf("notify %s: %w", id, err)
	}
	var e Entry
	if err := json.Unmarshal(doc, &e); err != nil {
		return fmt.Errorf("notify %s: %w", id, err)
	}
	if e.State != StateDead {
		return fmt.Errorf("notify %s: %w (it is %s)", id, ErrNotDead, e.State)
	}
	e.version = ver
	e.State, e.Attempts, e.NextAt, e.Updated = StatePending, 0, q.now().UTC(), q.now().UTC()
	return q.put(ctx, &e)
}

// Send delivers m on its channel now, once, outside the queue: for
// checking a channel's settings (`lachan notify test`).
func Send(ctx context.Context, cfg Config, m Message) error {
	ch, ok := cfg.Channel(m.Channel)
	if !ok {
		return fmt.Errorf("%w: %q (notify.channels)", ErrNoChannel, m.Channel)
	}
	send := map[string]sendFunc{TypeEmail: sendMail, TypeWebhook: sendWebhook}[ch.Type]
	if send == nil {
		return fmt.Errorf("notify.channels.%s: type %q", m.Channel, ch.Type)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	return send(ctx, ch, m, time.Now().UTC())
}
