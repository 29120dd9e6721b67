package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"lachan/server/incident"
	"lachan/server/mask"
	"lachan/server/store"
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
	// cur is the cursor over the incidents' changes (Scan), read from the
	// store at the first scan; saved is its document as last stored.
	cur   *incident.ChangeCursor
	saved string
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

// ChangeSource is an IncidentSource that also hands over the incidents
// written since a cursor (*incident.Manager is one), so that a scan reads
// what changed and not every incident.
type ChangeSource interface {
	IncidentSource
	Changes(ctx context.Context, cur *incident.ChangeCursor, fn func(*incident.Incident) error) (read int, ok bool, err error)
}

// cursorID is the KindState entity that keeps the forwarder's cursor over
// the incidents' changes.
const cursorID = "forward-incident-cursor"

type streamHead struct {
	seq      uint64
	modified time.Time
}

// Scan enqueues the current revision of every incident to forward whose
// revision (its store version) is newer than the last one enqueued. The
// outbox entry is the one write that records the decision: if the server
// dies before it, the next scan decides again; after it, the entry is
// there and delivery follows. It returns how many entries it added.
//
// Over a ChangeSource it looks only at the incidents written since the
// last scan, from a cursor kept in the store and saved after the
// entries: a scan cut short after enqueueing looks at those incidents
// again and finds their revisions enqueued. Only the streams of those
// incidents are read from the outbox.
func (f *Forwarder) Scan(ctx context.Context) (int, error) {
	cs, ok := f.src.(ChangeSource)
	if !ok {
		return f.ScanAll(ctx)
	}
	if f.cur == nil {
		cur, err := f.loadCursor(ctx)
		if err != nil {
			return 0, err
		}
		f.cur = cur
	}
	d := f.decider()
	_, built, err := cs.Changes(ctx, f.cur, func(inc *incident.Incident) error {
		if !d.wanted(ctx, *inc) {
			return nil
		}
		head, err := f.out.Head(ctx, StreamPrefix+inc.ID)
		if err != nil {
			return err
		}
		return d.decide(ctx, *inc, head)
	})
	if !built && err == nil {
		return f.ScanAll(ctx)
	}
	if serr := f.saveCursor(ctx); serr != nil {
		err = errors.Join(err, serr)
	}
	return d.added, err
}

// ScanAll is Scan over every incident and every outbox entry, as it ran
// before the incidents' change index: over a source without one, and to
// compare with.
func (f *Forwarder) ScanAll(ctx context.Context) (int, error) {
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
	d := f.decider()
	for _, inc := range incs {
		head := heads[StreamPrefix+inc.ID]
		if inc.Version <= head.seq || !d.wanted(ctx, inc) {
			continue
		}
		if err := d.decide(ctx, inc, head); err != nil {
			return d.added, err
		}
	}
	return d.added, nil
}

// decision is one scan's deciding: the severity floor, the units' names
// (read once, when the first entry needs them) and the entries added.
type decision struct {
	f     *Forwarder
	min   int
	names map[string]string
	added int
}

func (f *Forwarder) decider() *decision {
	return &decision{f: f, min: slices.Index(Severities, f.cfg.MinSeverity)}
}

func (d *decision) wanted(ctx context.Context, inc incident.Incident) bool {
	return d.f.wanted(ctx, inc, d.min)
}

// decide enqueues inc's current revision when it is newer than its
// stream's head.
func (d *decision) decide(ctx context.Context, inc incident.Incident, head streamHead) error {
	if inc.Version <= head.seq {
		return nil
	}
	if d.names == nil {
		d.names = d.f.unitNames(ctx)
	}
	ok, err := d.f.enqueue(ctx, inc.ID, head, d.names)
	if ok {
		d.added++
	}
	return err
}

// loadCursor reads the cursor saved by the last scan; a server that never
// scanned by changes starts from the first change, which reads every
// incident once.
func (f *Forwarder) loadCursor(ctx context.Context) (*incident.ChangeCursor, error) {
	cur := &incident.ChangeCursor{}
	doc, _, err := f.out.st.GetEntity(ctx, store.KindState, cursorID)
	if errors.Is(err, store.ErrNotFound) {
		return cur, nil
	}
	if err != nil {
		return nil, fmt.Errorf("forward cursor: %w", err)
	}
	if err := json.Unmarshal(doc, cur); err != nil {
		return nil, fmt.Errorf("forward cursor: stored document: %w", err)
	}
	f.saved = string(doc)
	return cur, nil
}

// saveCursor writes the cursor when it moved. Replicas that share the
// store may overwrite each other's: each one's cursor is true of the
// incidents it has looked at, and a revision enqueued by any is enqueued.
func (f *Forwarder) saveCursor(ctx context.Context) error {
	doc, err := json.Marshal(f.cur)
	if err != nil {
		return fmt.Errorf("forward cursor: %w", err)
	}
	if string(doc) == f.saved {
		return nil
	}
	err = store.RetryConflicts(ctx, func() error {
		_, ver, err := f.out.st.GetEntity(ctx, store.KindState, cursorID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, err = f.out.st.PutEntity(ctx, store.KindState, cursorID, doc, ver)
		return err
	})
	if err != nil {
		return fmt.Errorf("forward cursor: %w", err)
	}
	f.saved = string(doc)
	return nil
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

// fullEvery is how often Run also reads every incident (ScanAll): what
// goes up depends on more than the incident (a system's level under the
// policy, min_severity after a restart), and an incident that did not
// change is met by no scan by changes.
const fullEvery = time.Hour

// Run scans every ScanInterval, reads every incident an hour after its
// start and hourly after that, and prunes old delivered entries hourly,
// until ctx ends.
func (f *Forwarder) Run(ctx context.Context) {
	t := time.NewTicker(f.cfg.ScanInterval)
	defer t.Stop()
	lastPrune, lastFull := time.Time{}, time.Now()
	for {
		if _, err := f.Scan(ctx); err != nil && ctx.Err() == nil {
			f.log.Error("forward scan", "err", err)
		}
		if time.Since(lastFull) > fullEvery {
			if n, err := f.ScanAll(ctx); err != nil && ctx.Err() == nil {
				f.log.Error("forward scan of every incident", "err", err)
			} else if n > 0 {
				f.log.Info("the hourly scan of every incident queued revisions the scans by changes had not", "entries", n)
			}
			lastFull = time.Now()
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
