package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"lachan/internal/event"
	"lachan/internal/spool"
	"lachan/server/store"
)

// op is one bulk operation: its two NDJSON lines and what it is about.
type op struct {
	index, id string
	lines     []byte
	// ev is the position of the event in PutEvents' input, -1 when the
	// operation came from the buffer.
	ev int
}

// PutEvents stores evs; see the package doc for what happens while the
// cluster is away.
func (e *Engine) PutEvents(ctx context.Context, evs []event.Event) ([]event.Event, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.leave()
	for i, ev := range evs {
		if err := ev.Validate(); err != nil {
			return nil, fmt.Errorf("put events: event %d: %w", i, err)
		}
	}
	ops, err := e.encodeOps(evs)
	if err != nil {
		return nil, fmt.Errorf("put events: %w", err)
	}
	outs := make([]outcome, len(ops))
	var left []int
	if e.buf != nil && e.buf.Len() > 0 {
		// Older writes wait in the buffer: these go behind them, so that
		// the first copy of an event is still the one kept.
		left = allOps(len(ops))
	} else if err := e.ensureSetup(ctx); err != nil {
		left = allOps(len(ops))
		e.log.Warn("elasticsearch layout not ready; buffering", "err", err)
	} else {
		ops, outs, left, err = e.deliver(ctx, ops)
		if len(left) > 0 && err != nil && !retryable(err) {
			return nil, fmt.Errorf("put events: %w", err)
		}
	}
	if len(left) > 0 {
		if err := e.bufferOps(ops, left); err != nil {
			return nil, fmt.Errorf("put events: %w", err)
		}
		for _, i := range left {
			if ops[i].ev >= 0 && ops[i].index != e.names.deadLetters() {
				outs[i] = outCreated
			}
		}
	}
	var fresh []event.Event
	for i, o := range ops {
		if o.ev >= 0 && o.index != e.names.deadLetters() && outs[i] == outCreated {
			fresh = append(fresh, evs[o.ev])
		}
	}
	return fresh, nil
}

func allOps(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// encodeOps turns events into create operations, and those that fail the
// mapping check into dead-letter operations.
func (e *Engine) encodeOps(evs []event.Event) ([]op, error) {
	enc := &encoder{names: e.names}
	ops := make([]op, 0, len(evs))
	buf := make([]byte, 0, 640*len(evs))
	for i, ev := range evs {
		if me := e.check(ev); me != nil {
			dl, err := store.NewDeadLetter(ev, me, e.now())
			if err != nil {
				return nil, err
			}
			o, err := e.deadLetterOp(dl)
			if err != nil {
				return nil, err
			}
			o.ev = i
			ops = append(ops, o)
			continue
		}
		start := len(buf)
		var err error
		if buf, err = enc.appendCreate(buf, ev); err != nil {
			return nil, err
		}
		ops = append(ops, op{index: e.names.stream(store.DataKindOf(ev.Dataset)), id: ev.ID, lines: buf[start:len(buf):len(buf)], ev: i})
	}
	return ops, nil
}

// check is the mapping check plus the engine's own reserved field.
func (e *Engine) check(ev event.Event) *store.MappingError {
	if _, ok := ev.Fields[fieldTS]; ok {
		return &store.MappingError{Field: fieldTS, Reason: "reserved for the Elasticsearch engine"}
	}
	return e.mapping.Check(ev)
}

// deadLetterDoc is a dead letter as stored in the dead-letter index.
type deadLetterDoc struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Field  string    `json:"field"`
	Reason string    `json:"reason"`
	Event  string    `json:"event"`
}

func (e *Engine) deadLetterOp(dl store.DeadLetter) (op, error) {
	doc, err := json.Marshal(deadLetterDoc{ID: dl.ID, At: dl.At, Field: dl.Field, Reason: dl.Reason, Event: string(dl.Event)})
	if err != nil {
		return op{}, fmt.Errorf("dead letter %s: %w", dl.ID, err)
	}
	idx := e.names.deadLetters()
	lines := fmt.Appendf(nil, `{"create":{"_index":%q,"_id":%q}}`+"\n%s\n", idx, dl.ID, doc)
	return op{index: idx, id: dl.ID, lines: lines, ev: -1}, nil
}

// deliver sends ops until each has a final answer or the attempts run out.
// An event the cluster refuses becomes a dead-letter operation appended to
// ops. It returns the (grown) ops, their outcomes and the positions of
// those still without a final answer, with the last error seen.
func (e *Engine) deliver(ctx context.Context, ops []op) ([]op, []outcome, []int, error) {
	outs := make([]outcome, len(ops))
	pending := allOps(len(ops))
	var lastErr error
	for attempt := 1; len(pending) > 0; attempt++ {
		var retry []int
		for _, chunk := range e.chunks(ops, pending) {
			items, err := e.sendBulk(ctx, ops, chunk)
			if err != nil {
				lastErr = err
				retry = append(retry, chunk...)
				continue
			}
			for k, i := range chunk {
				switch o := items[k].outcome(); {
				case o == outRefused && ops[i].index != e.names.deadLetters():
					dl, derr := e.refusedLetter(ops[i], items[k])
					if derr != nil {
						return ops, outs, nil, derr
					}
					outs[i] = outRefused
					ops = append(ops, dl)
					outs = append(outs, outRetry)
					retry = append(retry, len(ops)-1)
				case o == outCreated || o == outExists:
					outs[i] = o
				default:
					lastErr = fmt.Errorf("bulk item %s/%s: status %d", ops[i].index, ops[i].id, items[k].Status)
					retry = append(retry, i)
				}
			}
		}
		pending = retry
		if len(pending) == 0 || attempt >= e.cfg.MaxAttempts || ctx.Err() != nil {
			break
		}
		if err := e.sleep(ctx, e.backoff(attempt)); err != nil {
			break
		}
	}
	return ops, outs, pending, lastErr
}

// chunks cuts the pending operations into bulk requests.
func (e *Engine) chunks(ops []op, pending []int) [][]int {
	var out [][]int
	var cur []int
	size := 0
	for _, i := range pending {
		if len(cur) > 0 && (len(cur) >= e.cfg.BulkMaxEvents || size+len(ops[i].lines) > e.cfg.BulkMaxBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += len(ops[i].lines)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// sendBulk sends one bulk request, holding a slot of the in-flight limit:
// writers beyond it wait, which is the back-pressure callers feel.
func (e *Engine) sendBulk(ctx context.Context, ops []op, chunk []int) ([]bulkItem, error) {
	select {
	case e.inflight <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-e.inflight }()
	var body bytes.Buffer
	for _, i := range chunk {
		body.Write(ops[i].lines)
	}
	_, resp, err := e.do(ctx, request{method: http.MethodPost, path: []string{"_bulk"},
		query: url.Values{"refresh": {e.cfg.Refresh}}, body: body.Bytes(), ndjson: true})
	if err != nil {
		return nil, err
	}
	items, err := parseBulkResponse(resp, len(chunk))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnavailable, err)
	}
	return items, nil
}

// refusedLetter makes the dead-letter operation for an event operation the
// cluster refused.
func (e *Engine) refusedLetter(o op, it bulkItem) (op, error) {
	field, reason := refusal(it)
	doc := o.lines[bytes.IndexByte(o.lines, '\n')+1:]
	ev, err := decodeDoc(bytes.TrimSpace(doc))
	raw := bytes.TrimSpace(doc)
	if err == nil {
		if b, merr := json.Marshal(ev); merr == nil {
			raw = b
		}
	}
	return e.deadLetterOp(store.DeadLetter{ID: o.id, At: e.now(), Field: field, Reason: reason, Event: raw})
}

// backoff is the wait before attempt+1: exponential with full jitter.
func (e *Engine) backoff(attempt int) time.Duration {
	d := e.cfg.BackoffMin << min(attempt-1, 30)
	if d <= 0 || d > e.cfg.BackoffMax {
		d = e.cfg.BackoffMax
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bufferOps appends the listed operations to the disk buffer, in records of
// at most BulkMaxBytes, and wakes the drainer.
func (e *Engine) bufferOps(ops []op, left []int) error {
	if e.buf == nil {
		return fmt.Errorf("%w, and no buffer_dir is set", errUnavailable)
	}
	var recs [][]byte
	var cur []byte
	for _, i := range left {
		if len(cur) > 0 && len(cur)+len(ops[i].lines) > e.cfg.BulkMaxBytes {
			recs = append(recs, cur)
			cur = nil
		}
		cur = append(cur, ops[i].lines...)
	}
	if len(cur) > 0 {
		recs = append(recs, cur)
	}
	if err := e.buf.Append(recs...); err != nil {
		if errors.Is(err, spool.ErrFull) {
			return fmt.Errorf("elasticsearch unreachable and the disk buffer is full: %w", err)
		}
		return fmt.Errorf("buffer writes: %w", err)
	}
	e.log.Warn("elasticsearch did not take a write; buffered on disk", "operations", len(left))
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return nil
}
