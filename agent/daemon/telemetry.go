package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"lachan/internal/event"
	"lachan/internal/spool"
	"lachan/internal/wire"
)

// Telemetry is spooled in batches: one spool write (and sync) and one
// wake of the shipper per batch instead of per event, which at a hundred
// executions a second is most of the agent's work. A crash loses at most
// the last telemetryFlush of telemetry, never a finding. Two seconds
// keep an event within about two and a half seconds of the server (the
// target is five at the 95th percentile) and ship half as often as one.
const (
	telemetryFlush = 2 * time.Second
	telemetryBatch = 500
)

// telemetryBuffer holds encoded telemetry events not yet spooled.
type telemetryBuffer struct {
	mu    sync.Mutex
	recs  [][]byte
	bytes int64
}

// emitTelemetry queues one telemetry event for the next batch, or sheds
// it when the spool is nearly full.
func (d *Daemon) emitTelemetry(ev event.Event) error {
	// Straight to the event's own encoder: json.Marshal would check and
	// compact its output again, a second pass over every byte.
	b, err := ev.AppendJSON(make([]byte, 0, 64+48*len(ev.Fields)))
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	d.telBuf.mu.Lock()
	if d.sheds(d.telBuf.bytes+int64(len(b)), ev.Dataset) {
		d.telBuf.mu.Unlock()
		return ErrShed
	}
	d.telBuf.recs = append(d.telBuf.recs, b)
	d.telBuf.bytes += int64(len(b))
	full := len(d.telBuf.recs) >= telemetryBatch
	d.telBuf.mu.Unlock()
	if full {
		d.flushTelemetry()
	}
	return nil
}

// flushTelemetry spools the queued telemetry as one batch.
func (d *Daemon) flushTelemetry() {
	d.telBuf.mu.Lock()
	recs := d.telBuf.recs
	d.telBuf.recs, d.telBuf.bytes = nil, 0
	d.telBuf.mu.Unlock()
	if len(recs) == 0 {
		return
	}
	if err := d.sp.Append(recs...); err != nil {
		d.mu.Lock()
		d.spoolFull = errors.Is(err, spool.ErrFull)
		d.mu.Unlock()
		d.log.Error("telemetry not spooled", "events", len(recs), "err", err)
		return
	}
	d.shipper.Notify()
}

// telemetryLoop runs the endpoint telemetry collector and spools what it
// collects; a collector that cannot start says why in the status sent at
// check-in.
func (d *Daemon) telemetryLoop(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.tel.Run(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("endpoint telemetry not collected", "err", err)
		}
	}()
	t := time.NewTicker(telemetryFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			d.flushTelemetry()
			return
		case <-t.C:
			d.flushTelemetry()
		}
	}
}

// telemetryStatus adds the collector's state and drop counts to st.
func (d *Daemon) telemetryStatus(st *wire.Status) {
	if d.tel == nil {
		return
	}
	st.Telemetry = d.tel.Status()
	st.TelemetryDropped = d.tel.Dropped()
	kinds := make([]string, 0, len(st.Telemetry))
	for k := range st.Telemetry {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if s := st.Telemetry[k]; s != "ok" && s != "starting" {
			st.Errors = append(st.Errors, fmt.Sprintf("%s telemetry: %s", k, s))
		}
	}
}
