package correlate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// KindCheckpoint is the store entity kind of the checkpoint mark: when the
// last complete checkpoint began.
const KindCheckpoint = "correlation-checkpoint"

// checkpointMarkID is the one mark's ID.
const checkpointMarkID = "last"

// replayMargin is how long before the last checkpoint began an event may
// have been stamped on ingest and still have been observed only after it
// (the pipeline stamps a batch before it takes its turn).
const replayMargin = time.Minute

// mark is the checkpoint mark's document.
type mark struct {
	// Began is when the last complete checkpoint began (Unix nanoseconds,
	// server clock); every event observed before it is in the checkpoint.
	Began int64 `json:"began"`
	// Watermark is the newest event time seen then.
	Watermark int64 `json:"watermark"`
}

// EventSource is the part of store.Store that Replay reads.
type EventSource interface {
	SearchEvents(ctx context.Context, q store.Query) (store.Page, error)
}

// writeMark records that a checkpoint begun at began is complete, unless
// a later one already said so.
func (c *Correlator) writeMark(ctx context.Context, m mark) error {
	for attempt := 0; ; attempt++ {
		doc, ver, err := c.st.GetEntity(ctx, KindCheckpoint, checkpointMarkID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("checkpoint mark: %w", err)
		}
		var old mark
		if err == nil && json.Unmarshal(doc, &old) == nil && old.Began >= m.Began {
			return nil
		}
		b, _ := json.Marshal(m)
		_, err = c.st.PutEntity(ctx, KindCheckpoint, checkpointMarkID, b, ver)
		if err == nil || !errors.Is(err, store.ErrConflict) || attempt >= maxConflicts {
			if err != nil {
				return fmt.Errorf("checkpoint mark: %w", err)
			}
			return nil
		}
	}
}

// Replay gives the windows back what a kill took from them: the events
// stored since the last complete checkpoint began (with a margin) are run
// through detect and observed again, oldest first, as the pipeline did.
// Observing is idempotent per event and rule, so events the checkpoint
// already holds change nothing. The alerts that fire are dropped: the
// pipeline stored the first firing with the events that caused it. Call
// it after Restore and before the correlator sees new events; it returns
// how many events it observed.
func (c *Correlator) Replay(ctx context.Context, src EventSource, detect func(event.Event) []event.Event) (int, error) {
	set := c.Set()
	if c.st == nil || set.Len() == 0 {
		return 0, nil
	}
	var m mark
	doc, _, err := c.st.GetEntity(ctx, KindCheckpoint, checkpointMarkID)
	switch {
	case errors.Is(err, store.ErrNotFound): // never checkpointed: replay every window
	case err != nil:
		return 0, fmt.Errorf("replay correlation: checkpoint mark: %w", err)
	default:
		if err := json.Unmarshal(doc, &m); err != nil {
			return 0, fmt.Errorf("replay correlation: checkpoint mark: %w", err)
		}
	}
	var span time.Duration
	for _, cr := range set.rules {
		span = max(span, cr.Timespan)
	}
	q := store.Query{Asc: true, Limit: store.MaxLimit}
	if m.Watermark > 0 {
		// An event observed after the mark joined a window open then, or
		// opened one no more than Tolerance behind the watermark.
		q.From = time.Unix(0, m.Watermark).Add(-c.cfg.Tolerance - span)
	} else {
		q.From = c.now().Add(-c.cfg.Tolerance - span)
	}
	since := time.Unix(0, m.Began).Add(-replayMargin)
	n := 0
	for {
		page, err := src.SearchEvents(ctx, q)
		if err != nil {
			return n, fmt.Errorf("replay correlation: %w", err)
		}
		for _, ev := range page.Events {
			if ev.Dataset == event.DatasetAlert || !ingestedSince(ev, since) {
				continue
			}
			c.Observe(ev, detect(ev))
			n++
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	c.log.Info("correlation windows replayed", "events", n, "since", since)
	return n, nil
}

// ingestedSince reports whether ev was stamped on ingest at or after t; an
// event without a stamp counts as recent.
func ingestedSince(ev event.Event, t time.Time) bool {
	s := ev.String("event.ingested")
	if s == "" {
		return true
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	return err != nil || !at.Before(t)
}
