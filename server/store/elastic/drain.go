package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// drainBatch bounds the records one drain round reads.
const drainBatch = 16

// drainLoop sends the buffer to the cluster whenever it is woken, and
// every so often, backing off while the cluster stays away.
func (e *Engine) drainLoop() {
	defer close(e.drained)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-e.stop
		cancel()
	}()
	if e.buf == nil {
		<-e.stop
		return
	}
	failures := 0
	for {
		wait := time.Second
		if failures > 0 {
			wait = e.backoff(failures)
		}
		t := time.NewTimer(wait)
		select {
		case <-e.stop:
			t.Stop()
			return
		case <-e.wake:
		case <-t.C:
		}
		t.Stop()
		if err := e.drain(ctx); err != nil {
			failures++
			e.log.Warn("draining the elasticsearch buffer", "err", err, "waiting", e.buf.Len())
			continue
		}
		failures = 0
	}
}

// drain sends buffered records, oldest first, until the buffer is empty
// or a record cannot be delivered. A record is acknowledged only when
// every operation in it has a final answer; a record sent again after a
// partial success repeats creates that answer 409, so nothing is stored
// twice.
func (e *Engine) drain(ctx context.Context) error {
	for e.buf.Len() > 0 {
		if err := e.ensureSetup(ctx); err != nil {
			return err
		}
		recs, err := e.buf.Peek(drainBatch, e.cfg.BulkMaxBytes)
		if err != nil {
			return fmt.Errorf("read buffer: %w", err)
		}
		for _, rec := range recs {
			ops, err := splitOps(rec.Data)
			if err != nil {
				// A record this engine wrote and the spool checked cannot
				// be malformed; keeping it would block the queue forever.
				e.log.Error("dropping an unreadable buffer record", "seq", rec.Seq, "err", err)
			} else if _, _, left, derr := e.deliver(ctx, ops); len(left) > 0 {
				return fmt.Errorf("%d of %d buffered operations not taken: %w", len(left), len(ops), derr)
			}
			if err := e.buf.Ack(rec.Seq); err != nil {
				return fmt.Errorf("acknowledge buffer: %w", err)
			}
		}
	}
	return nil
}

// splitOps reads a buffered record back into operations.
func splitOps(data []byte) ([]op, error) {
	var ops []op
	for len(data) > 0 {
		a := bytes.IndexByte(data, '\n')
		if a < 0 {
			return nil, fmt.Errorf("operation %d: action line without document", len(ops))
		}
		d := bytes.IndexByte(data[a+1:], '\n')
		if d < 0 {
			return nil, fmt.Errorf("operation %d: document without newline", len(ops))
		}
		var action struct {
			Create *struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			} `json:"create"`
		}
		if err := json.Unmarshal(data[:a], &action); err != nil || action.Create == nil {
			return nil, fmt.Errorf("operation %d: not a create action", len(ops))
		}
		end := a + 1 + d + 1
		ops = append(ops, op{index: action.Create.Index, id: action.Create.ID, lines: data[:end:end], ev: -1})
		data = data[end:]
	}
	return ops, nil
}
