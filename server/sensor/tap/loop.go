package tap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"lachan/internal/event"
	"lachan/internal/spool"
	"lachan/server/sensor"
	"lachan/server/sensor/pcapstore"
)

// tapper is one run: the capture loop feeds the decoder, which hands
// records to the tapper as a sensor.Sink; they wait in pending until the
// next spool flush; ship sends what the spool holds.
type tapper struct {
	cfg   Config
	src   source
	dec   *sensor.Decoder
	store *pcapstore.Writer
	sp    *spool.Spool
	send  Sender
	log   *slog.Logger

	pending  [][]byte
	flushed  atomic.Bool // the capture has ended and every record is spooled
	spooled  atomic.Int64
	sent     atomic.Int64
	sendErrs atomic.Int64

	mu      sync.Mutex
	decStat sensor.Stats // updated by the capture loop for progress logs
}

// Flow implements sensor.Sink.
func (t *tapper) Flow(f *sensor.Flow) error { return t.Event(f.Event()) }

// Event implements sensor.Sink.
func (t *tapper) Event(ev event.Event) error {
	b, err := ev.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode %s record: %w", ev.Dataset, err)
	}
	t.pending = append(t.pending, b)
	if len(t.pending) >= t.cfg.BatchSize {
		return t.spool()
	}
	return nil
}

// spool moves the pending records to the spool in one append.
func (t *tapper) spool() error {
	if len(t.pending) == 0 {
		return nil
	}
	if err := t.sp.Append(t.pending...); err != nil {
		// A full spool means the server has been away too long: the
		// records are counted as lost rather than stopping the capture.
		if errors.Is(err, spool.ErrFull) {
			t.log.Error("spool full: records dropped", "records", len(t.pending))
			t.pending = t.pending[:0]
			return nil
		}
		return fmt.Errorf("sensor: spool: %w", err)
	}
	t.spooled.Add(int64(len(t.pending)))
	t.pending = t.pending[:0]
	return nil
}

// capture reads packets until ctx is done.
func (t *tapper) capture(ctx context.Context) error {
	lastFlush, lastProgress := time.Now(), time.Now()
	for ctx.Err() == nil {
		data, ci, err := t.src.read()
		switch {
		case errors.Is(err, errTimeout):
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("sensor: read %s: %w", t.cfg.Interface, err)
		default:
			if err := t.dec.Packet(data, ci, t.src.link()); err != nil {
				return err
			}
		}
		if now := time.Now(); now.Sub(lastFlush) >= t.cfg.FlushInterval {
			lastFlush = now
			if err := t.tick(now); err != nil {
				return err
			}
			if now.Sub(lastProgress) >= t.cfg.ProgressInterval {
				lastProgress = now
				t.progress()
			}
		}
	}
	return nil
}

// tick ends idle flows by the wall clock (packet times on a live
// interface follow it), spools what is pending and flushes the capture
// file so that a fetch sees the latest packets.
func (t *tapper) tick(now time.Time) error {
	if err := t.dec.Expire(now); err != nil {
		return err
	}
	t.mu.Lock()
	t.decStat = t.dec.Stats()
	t.mu.Unlock()
	if t.store != nil {
		if err := t.store.Flush(); err != nil {
			return err
		}
	}
	return t.spool()
}

func (t *tapper) progress() {
	t.mu.Lock()
	st := t.decStat
	t.mu.Unlock()
	t.log.Info("sensor progress", "packets", st.Packets, "flows", st.Flows, "dns", st.DNSRecords,
		"http", st.HTTPRecords, "tls", st.TLSRecords, "undecodable", st.DecodeErrors,
		"flows_evicted", st.FlowsEvicted, "kernel_dropped", t.src.dropped(),
		"records_spooled", t.spooled.Load(), "records_sent", t.sent.Load(), "pending", t.sp.Len())
}

// finish ends every open flow and spools the last records.
func (t *tapper) finish() error {
	err := t.dec.Flush()
	if serr := t.spool(); err == nil {
		err = serr
	}
	if t.store != nil {
		if cerr := t.store.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// ship sends what the spool holds, oldest first, until the capture has
// ended and the spool is empty, or the drain after stopping times out.
func (t *tapper) ship(ctx context.Context, stopping <-chan struct{}, drain time.Duration) {
	backoff := 100 * time.Millisecond
	var deadline time.Time
	for {
		if deadline.IsZero() {
			select {
			case <-stopping:
				deadline = time.Now().Add(drain)
			default:
			}
		}
		recs, err := t.sp.Peek(t.cfg.BatchSize, 8<<20)
		if err != nil {
			t.log.Error("reading the spool", "err", err)
			return
		}
		if len(recs) == 0 {
			if t.flushed.Load() {
				return
			}
			sleep(ctx, nil, 50*time.Millisecond)
			continue
		}
		if !deadline.IsZero() && time.Now().After(deadline) && t.flushed.Load() {
			t.log.Warn("drain timed out; records stay spooled for the next start", "pending", t.sp.Len())
			return
		}
		if t.deliver(ctx, recs, deadline) {
			backoff = 100 * time.Millisecond
			continue
		}
		wake := stopping // a stop ends the backoff, so that the drain starts at once
		wait := backoff
		if !deadline.IsZero() {
			wake, wait = nil, min(wait, time.Until(deadline)+time.Millisecond)
		}
		sleep(ctx, wake, wait)
		backoff = min(2*backoff, 30*time.Second)
	}
}

// deliver sends one batch and acknowledges it; it reports false when the
// server did not take it.
func (t *tapper) deliver(ctx context.Context, recs []spool.Record, deadline time.Time) bool {
	evs := make([]event.Event, 0, len(recs))
	for _, r := range recs {
		var ev event.Event
		if err := ev.UnmarshalJSON(r.Data); err != nil {
			// A record the sensor wrote itself that does not decode is
			// damage on disk: it can never be sent, so it is skipped.
			t.log.Error("spooled record does not decode; skipped", "seq", r.Seq, "err", err)
			continue
		}
		evs = append(evs, ev)
	}
	sctx, cancel := ctx, context.CancelFunc(func() {})
	if !deadline.IsZero() {
		sctx, cancel = context.WithDeadline(ctx, deadline)
	}
	defer cancel()
	if len(evs) > 0 {
		if err := t.send.Send(sctx, evs); err != nil {
			t.sendErrs.Add(1)
			t.log.Warn("sending records failed; will retry", "records", len(evs), "err", err)
			return false
		}
	}
	if err := t.sp.Ack(recs[len(recs)-1].Seq); err != nil {
		t.log.Error("acknowledging sent records", "err", err)
		return false
	}
	t.sent.Add(int64(len(evs)))
	return true
}

func sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) {
	tm := time.NewTimer(max(d, 0))
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-tm.C:
	}
}

func (t *tapper) summary() Summary {
	s := Summary{Decoder: t.dec.Stats(), KernelDropped: t.src.dropped(), Spooled: t.spooled.Load(),
		Sent: t.sent.Load(), Pending: t.sp.Len(), SendErrors: t.sendErrs.Load()}
	if t.store != nil {
		s.Capture = t.store.Stats()
	}
	return s
}
