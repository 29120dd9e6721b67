// Package pipeline is the server's ingest path: it stamps events with who
// sent them, ties network records to agents by address, runs detection,
// files alerts into incidents and stores everything, in an order that makes
// a retried batch harmless (see Process).
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/store"
)

// Detector turns one event into the alerts it raises. It must be safe for
// concurrent use.
type Detector interface {
	Detect(ev event.Event) []event.Event
}

// DetectorFunc adapts a function to Detector.
type DetectorFunc func(event.Event) []event.Event

// Detect calls f.
func (f DetectorFunc) Detect(ev event.Event) []event.Event { return f(ev) }

// Correlator sees each event with the alerts detection raised on it and
// returns the alerts to keep plus the correlation alerts that fired. It
// must be safe for concurrent use.
type Correlator interface {
	Observe(ev event.Event, alerts []event.Event) []event.Event
}

// Pipeline is safe for concurrent use.
type Pipeline struct {
	st        store.Store
	fleet     *fleet.Fleet
	incidents *incident.Manager
	detector  atomic.Pointer[Detector]
	corr      atomic.Pointer[Correlator]
	// rules is held shared while a batch is detected and correlated, and
	// exclusively by Reload, so that a batch sees one set of rules.
	rules sync.RWMutex
	log   *slog.Logger
	now   func() time.Time
	// mu serialises filing alerts into incidents (not detection) so that
	// alerts of concurrent batches group into incidents consistently;
	// storing serialises storing them. A batch takes storing before it
	// lets go of mu, so that batches are stored in the order they were
	// filed and a retry finds what an earlier try stored, while the next
	// batch files its alerts as this one is stored (commit.go).
	mu      sync.Mutex
	storing sync.Mutex
	// committer groups the batches waiting for mu into shared writes.
	committer committer
	// detecting counts the batches being detected (detect).
	detecting atomic.Int32
}

// New returns a pipeline.
func New(st store.Store, fl *fleet.Fleet, inc *incident.Manager, det Detector, log *slog.Logger) *Pipeline {
	p := &Pipeline{st: st, fleet: fl, incidents: inc, log: log.With("component", "pipeline"), now: time.Now}
	p.SetDetector(det)
	return p
}

// SetDetector swaps the rules in use, e.g. after a reload.
func (p *Pipeline) SetDetector(d Detector) { p.detector.Store(&d) }

// SetCorrelator makes every event and its alerts pass through c; its
// alerts are filed into incidents and stored like the others.
func (p *Pipeline) SetCorrelator(c Correlator) { p.corr.Store(&c) }

// Reload changes the rules between batches: it waits for the batches
// being detected to finish with the rules they began with, then, before
// another batch begins, makes det the detector and runs swap (the
// correlator's change of rules), so that each event is detected and
// correlated once, by the old rules or by the new. Batches detected but
// not yet committed are stored as they were detected.
func (p *Pipeline) Reload(det Detector, swap func()) {
	p.rules.Lock()
	defer p.rules.Unlock()
	p.SetDetector(det)
	if swap != nil {
		swap()
	}
}

// IngestAgent takes a batch from an enrolled agent. Identity fields come
// from the agent's enrollment, never from what it sent, so that an agent
// cannot write into another host's or unit's data.
func (p *Pipeline) IngestAgent(ctx context.Context, a fleet.Agent, evs []event.Event) (wire.IngestResponse, error) {
	st := newStamp(a)
	now := any(p.now().UTC().Format(time.RFC3339Nano))
	for i := range evs {
		p.fromOsquery(&evs[i])
		st.apply(&evs[i])
		evs[i].Set("event.ingested", now)
	}
	return p.Process(ctx, evs)
}

// StampAgent sets the identity fields of an event of agent a's host
// (agent.id, host.id, host.name, host.os.type, host.ip, lachan.unit) from
// the agent's enrollment, over whatever the event said.
func StampAgent(ev *event.Event, a fleet.Agent) { newStamp(a).apply(ev) }

// stamp is an agent's identity fields as the values an event holds, made
// once for a batch: each string is put into an interface value once, not
// once per event and field (an allocation each).
type stamp struct {
	id, name, os, unit any
	ips                []any // copied for each event, which owns its list
}

func newStamp(a fleet.Agent) stamp {
	st := stamp{id: a.ID, name: a.Host.Name, os: a.Host.OS, unit: a.Unit, ips: make([]any, len(a.Host.IPs))}
	for i, ip := range a.Host.IPs {
		st.ips[i] = ip
	}
	return st
}

// apply sets the stamp's fields on ev as StampAgent says.
func (st stamp) apply(ev *event.Event) {
	ev.Set("agent.id", st.id)
	ev.Set("host.id", st.id)
	ev.Set("host.name", st.name)
	ev.Set("host.os.type", st.os)
	ips := make([]any, len(st.ips))
	copy(ips, st.ips)
	ev.Set("host.ip", ips)
	ev.Set("lachan.unit", st.unit)
}

// Stamped marks a batch whose identity fields the caller has set (an
// import of files matched to hosts) with its ingest time and processes it.
func (p *Pipeline) Stamped(ctx context.Context, evs []event.Event) (wire.IngestResponse, error) {
	now := p.now().UTC().Format(time.RFC3339Nano)
	for i := range evs {
		evs[i].Set("event.ingested", now)
	}
	return p.Process(ctx, evs)
}

// IngestNetwork takes records from a sensor or a capture import and ties
// each to the agent whose address is its source (else its destination).
func (p *Pipeline) IngestNetwork(ctx context.Context, evs []event.Event) (wire.IngestResponse, error) {
	byAddr, err := p.fleet.ByAddress(ctx)
	if err != nil {
		return wire.IngestResponse{}, err
	}
	now := p.now().UTC().Format(time.RFC3339Nano)
	for i := range evs {
		ev := &evs[i]
		ev.Set("event.ingested", now)
		for _, f := range []string{"source.ip", "destination.ip"} {
			ip, err := netip.ParseAddr(ev.String(f))
			if err != nil {
				continue
			}
			if a, ok := byAddr[ip.Unmap()]; ok {
				ev.Set("host.id", a.ID)
				ev.Set("agent.id", a.ID)
				ev.Set("host.name", a.Host.Name)
				ev.Set("lachan.unit", a.Unit)
				break
			}
		}
	}
	return p.Process(ctx, evs)
}

// Process detects, files and stores a validated batch. Detection runs in
// the caller's goroutine, so batches are detected in parallel; filing and
// storing are each serialised (one batch's alerts are filed while the
// batch before is stored), and batches that wait for them at the same
// time share one filing and one store write (commit.go), each answered
// only once that write is durable. A crash anywhere leaves the batch unacknowledged, and its
// retry completes whatever step was missed without doubling anything:
// alert IDs derive from the rule and the events, so a retry detects the
// same alerts, and whatever an earlier try stored or filed is found under
// the lock.
func (p *Pipeline) Process(ctx context.Context, evs []event.Event) (wire.IngestResponse, error) {
	alerts := p.detect(evs)
	resp, err := p.commit(ctx, evs, alerts)
	if err == nil && (resp.Stored > 0 || resp.Alerts > 0) {
		p.log.Debug("batch stored", "received", resp.Received, "stored", resp.Stored, "duplicates", resp.Duplicates, "alerts", resp.Alerts)
	}
	return resp, err
}

// parallelFrom is the batch size from which detection is split across
// the cores.
const parallelFrom = 64

// detect runs the rules over the batch, split across the cores that no
// other batch is being detected on when it is large, then the correlator
// over each event in batch order, which its windows need.
func (p *Pipeline) detect(evs []event.Event) []event.Event {
	p.rules.RLock()
	defer p.rules.RUnlock()
	det := *p.detector.Load()
	found := make([][]event.Event, len(evs))
	// Under load the batches of concurrent requests already keep every
	// core busy; splitting each of them as well only adds a goroutine and
	// a wake-up per share, so a batch takes the cores left over.
	others := int(p.detecting.Add(1)) - 1
	defer p.detecting.Add(-1)
	workers := max(1, min(runtime.GOMAXPROCS(0)-others, len(evs)/parallelFrom+1))
	share := func(w int) {
		for i := w; i < len(evs); i += workers {
			found[i] = det.Detect(evs[i])
		}
	}
	// The caller takes the first share itself: a goroutine started and
	// waited for per share was a wake-up of an idle thread per batch.
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); share(w) }()
	}
	share(0)
	wg.Wait()
	corr := p.corr.Load()
	var alerts []event.Event
	for i, ev := range evs {
		if corr != nil {
			found[i] = (*corr).Observe(ev, found[i])
		}
		alerts = append(alerts, found[i]...)
	}
	return alerts
}

// FileAlerts files alerts raised outside the ingest stream (an indicator
// sweep over stored events) into incidents and stores them, serialised
// with Process; it returns how many were new.
func (p *Pipeline) FileAlerts(ctx context.Context, alerts []event.Event) (int, error) {
	defer p.lockBoth()()
	return p.fileAlerts(ctx, alerts)
}

// lockBoth takes mu and then storing, as a batch does between filing and
// storing, for the few callers that file and store in one step; the
// function returned lets go of both.
func (p *Pipeline) lockBoth() (unlock func()) {
	p.mu.Lock()
	p.storing.Lock()
	return func() {
		p.storing.Unlock()
		p.mu.Unlock()
	}
}

// fileAlerts is FileAlerts with p.mu and p.storing held.
func (p *Pipeline) fileAlerts(ctx context.Context, alerts []event.Event) (int, error) {
	fresh, err := p.unstored(ctx, alerts, false)
	if err != nil || len(fresh) == 0 {
		return 0, err
	}
	if _, err := p.incidents.Raise(ctx, fresh); err != nil {
		return 0, fmt.Errorf("raise incidents: %w", err)
	}
	if _, err := p.st.PutEvents(ctx, fresh); err != nil {
		return 0, fmt.Errorf("store alerts: %w", err)
	}
	return len(fresh), nil
}

// Record stores events the server itself made (an agent's history) and
// files the alerts they raise, serialised with Process when there are
// alerts. The events are
// stored before the alerts are filed, so an alert never points at an event
// that is not there.
func (p *Pipeline) Record(ctx context.Context, evs, alerts []event.Event) error {
	if len(alerts) == 0 {
		// Nothing to file: the history need not wait behind ingest
		// (an enrollment, a check-in), and its IDs are new ones.
		if _, err := p.st.PutEvents(ctx, evs); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		return nil
	}
	defer p.lockBoth()()
	if _, err := p.st.PutEvents(ctx, evs); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	_, err := p.fileAlerts(ctx, alerts)
	return err
}

// unstored returns the alerts whose IDs the store does not have yet. With
// bySource (the ingest stream) it also drops a rule's alert whose event is
// stored already, or whose rule and event it met earlier in alerts. An
// event is stored with the alerts its rules raise, in one write, so those
// alerts are stored already. A copy sent again with another time (an
// agent that restarted and found the same file again: an ID made from
// what was found, a later time) is not stored a second time, but the rule
// raises its alert again under another ID, since an alert's ID leads with
// its event's time; the alert's ID cannot tell it from a new one.
// Correlation alerts (lachan.correlation.type) are judged by their IDs
// alone: they are raised on a group whose earlier events are stored
// already, and their IDs are made from the group. Both look-ups are one
// read of the store.
func (p *Pipeline) unstored(ctx context.Context, alerts []event.Event, bySource bool) ([]event.Event, error) {
	if len(alerts) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(alerts))
	for _, a := range alerts {
		ids = append(ids, a.ID)
	}
	if bySource {
		asked := map[string]bool{}
		for _, a := range alerts {
			if src, ok := ruleSource(a); ok && !asked[src] {
				asked[src] = true
				ids = append(ids, src)
			}
		}
	}
	have, err := p.st.GetEvents(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("look up alerts: %w", err)
	}
	seen := make(map[string]bool, len(have))
	for _, h := range have {
		seen[h.ID] = true
	}
	raised := map[[2]string]bool{}
	var out []event.Event
	for _, a := range alerts {
		if seen[a.ID] {
			continue
		}
		if src, ok := ruleSource(a); ok && bySource {
			key := [2]string{a.String("rule.id"), src}
			if seen[src] || raised[key] {
				continue
			}
			raised[key] = true
		}
		seen[a.ID] = true
		out = append(out, a)
	}
	return out, nil
}

// ruleSource returns the event a rule's alert was raised on: its one
// source, for an alert that is not a correlation's.
func ruleSource(a event.Event) (string, bool) {
	if _, ok := a.Get("lachan.correlation.type"); ok {
		return "", false
	}
	src := a.Strings("lachan.alert.source_ids")
	if len(src) != 1 {
		return "", false
	}
	return src[0], true
}
