package forward

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"lachan/server/incident"
	"lachan/server/mask"
	"lachan/server/unit"
)

// IncidentSource reads incidents; *incident.Manager is one.
type IncidentSource interface {
	List(ctx context.Context, units []string) ([]incident.Incident, error)
	Show(ctx context.Context, id string, units []string) (incident.Detail, error)
}

// UnitLister names units; *unit.Registry is one.
type UnitLister interface {
	List(ctx context.Context) ([]unit.Unit, error)
}

// StreamPrefix starts the outbox stream of an incident.
const StreamPrefix = "incident:"

// Forwarder decides what goes upstream: every incident at or above the
// configured severity, and every incident the policy of a system it
// touches says must go up (SetPolicy), at every revision it has not yet
// sent.
type Forwarder struct {
	cfg    Config
	src    IncidentSource
	units  UnitLister
	masker *mask.Masker
	out    *Outbox
	log    *slog.Logger
	must   func(context.Context, incident.Incident) bool
}

// SetPolicy adds a rule that sends an incident up whatever its severity
// against forward.min_severity: the per-level policy of the information
// systems it touches (system.Policy.MustForward).
func (f *Forwarder) SetPolicy(must func(context.Context, incident.Incident) bool) { f.must = must }

func (f *Forwarder) wanted(ctx context.Context, inc incident.Incident, min int) bool {
	if slices.Index(Severities, inc.Severity) >= min {
		return true
	}
	return f.must != nil && f.must(ctx, inc)
}

// NewForwarder returns a forwarder that writes to out.
func NewForwarder(cfg Config, src IncidentSource, units UnitLister, m *mask.Masker, out *Outbox, log *slog.Logger) *Forwarder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Forwarder{cfg: cfg, src: src, units: units, masker: m, out: out, log: log.With("component", "forward")}
}

type streamHead struct {
	seq      uint64
	modified time.Time
}

// Scan enqueues the current revision of every incident to forward whose
// revision (its store version) is newer than the last one enqueued. The
// outbox entry is the one write that records the decision: if the server
// dies before it, the next scan decides again; after it, the entry is
// there and delivery follows. It returns how many entries it added.
func (f *Forwarder) Scan(ctx context.Context) (int, error) {
	entries, err := f.out.Entries(ctx)
	if err != nil {
		return 0, err
	}
	heads := map[string]streamHead{}
	for _, e := range entries {
		if h := heads[e.Stream]; e.Seq > h.seq {
			heads[e.Stream] = streamHead{e.Seq, e.Modified}
		}
	}
	incs, err := f.src.List(ctx, nil)
	if err != nil {
		return 0, err
	}
	names := f.unitNames(ctx)
	min := slices.Index(Severities, f.cfg.MinSeverity)
	added := 0
	for _, inc := range incs {
		if inc.Version <= heads[StreamPrefix+inc.ID].seq || !f.wanted(ctx, inc, min) {
			continue
		}
		ok, err := f.enqueue(ctx, inc.ID, heads[StreamPrefix+inc.ID], names)
		if err != nil {
			return added, err
		}
		if ok {
			added++
		}
	}
	return added, nil
}

func (f *Forwarder) enqueue(ctx context.Context, id string, head streamHead, names map[string]string) (bool, error) {
	d, err := f.src.Show(ctx, id, nil)
	if err != nil {
		return false, err
	}
	// STIX tells versions apart by modified, so each revision's must be
	// later than the last one sent even when the incident's clock is not.
	mod := d.Updated.UTC().Truncate(time.Millisecond)
	if !mod.After(head.modified) {
		mod = head.modified.Add(time.Millisecond)
	}
	s := f.masker.Session()
	b := IncidentBundle(d.Incident, d.Evidence, d.Version, mod, Reporter{Sender: f.cfg.Name, Unit: d.Unit, UnitName: names[d.Unit]}, s)
	raw, err := Encode(b)
	if err != nil {
		return false, fmt.Errorf("incident %s: encode bundle: %w", id, err)
	}
	if err := s.Commit(ctx); err != nil {
		return false, fmt.Errorf("incident %s: %w", id, err)
	}
	ok, err := f.out.Enqueue(ctx, Entry{Stream: StreamPrefix + id, Seq: d.Version, Object: ID("incident", "incident", id), Modified: mod, Bundle: raw})
	if ok {
		f.log.Info("incident queued for upstream", "incident", id, "revision", d.Version)
	}
	return ok, err
}

func (f *Forwarder) unitNames(ctx context.Context) map[string]string {
	names := map[string]string{}
	if f.units == nil {
		return names
	}
	us, err := f.units.List(ctx)
	if err != nil {
		f.log.Warn("unit names unavailable; identities carry unit IDs", "err", err)
		return names
	}
	for _, u := range us {
		names[u.ID] = u.Name
	}
	return names
}

// Run scans every ScanInterval and prunes old delivered entries hourly,
// until ctx ends.
func (f *Forwarder) Run(ctx context.Context) {
	t := time.NewTicker(f.cfg.ScanInterval)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		if _, err := f.Scan(ctx); err != nil && ctx.Err() == nil {
			f.log.Error("forward scan", "err", err)
		}
		if time.Since(lastPrune) > time.Hour {
			if n, err := f.out.Prune(ctx, time.Now().Add(-f.cfg.Retention)); err != nil && ctx.Err() == nil {
				f.log.Error("outbox prune", "err", err)
			} else if n > 0 {
				f.log.Info("outbox pruned", "entries", n)
			}
			lastPrune = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// IsRemote reports whether an incident was reported by a lower tier.
func IsRemote(inc incident.Incident) bool { return strings.HasPrefix(inc.Rule.ID, "remote:") }
