package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"lachan/agent/telemetry"
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

// telemetryLoop runs the endpoint telemetry collector with the effective
// configuration (restarting it when the server's policy changes that) and
// spools what it collects; a collector that cannot start says why in the
// status sent at check-in.
func (d *Daemon) telemetryLoop(ctx context.Context) {
	t := time.NewTicker(telemetryFlush)
	defer t.Stop()
	for {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		if cfg := d.pol.linuxConfig(); cfg.Enabled() {
			tel := telemetry.New(cfg, d.cl.ID.AgentID, d.emitTelemetry, d.log.With("component", "telemetry"))
			d.setTelemetry(tel)
			go func() {
				defer close(done)
				if err := tel.Run(runCtx); err != nil && runCtx.Err() == nil {
					d.log.Error("endpoint telemetry not collected", "err", err)
				}
			}()
		} else {
			d.setTelemetry(nil)
			close(done)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				cancel()
				<-done
				d.flushTelemetry()
				return
			case <-d.pol.linuxChanged:
				cancel()
				<-done
				d.flushTelemetry()
				break wait
			case <-t.C:
				d.flushTelemetry()
			}
		}
	}
}

// telemetryStatus adds the collector's state, its drop counts and the
// telemetry policy applied to st.
func (d *Daemon) telemetryStatus(st *wire.Status) {
	if d.pol != nil {
		version, refused := d.pol.state()
		st.TelemetryPolicy = version
		if refused != "" {
			st.Errors = append(st.Errors, refused)
		}
	}
	tel, carried := d.telemetryCollector()
	dropped := carried
	if tel != nil {
		st.Telemetry = tel.Status()
		for k, v := range tel.Dropped() {
			if dropped == nil {
				dropped = map[string]int64{}
			}
			dropped[k] += v
		}
	}
	if len(dropped) > 0 {
		st.TelemetryDropped = dropped
	}
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
