package playbook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"lachan/internal/event"
	"lachan/server/incident"
	"lachan/server/notify"
	"lachan/server/store"
)

// KindRun is the store entity kind of playbook runs.
const KindRun = "playbook-run"

// maxAlerts bounds the alerts of one incident a trigger looks at.
const maxAlerts = 200

// Notifier queues notifications; *notify.Queue is one.
type Notifier interface {
	HasChannel(name string) bool
	Enqueue(ctx context.Context, m notify.Message) error
}

// Deps are what the engine works with. Actions and Notify may be nil:
// steps that need them end as unavailable.
type Deps struct {
	Store     store.Store
	Incidents *incident.Manager
	Set       *Set
	Actions   Actions
	Notify    Notifier
	// Level returns the highest cấp độ of the systems named (0: none known).
	Level func(ctx context.Context, systems []string) int
	Log   *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Engine runs playbooks for the server's incidents.
type Engine struct {
	d    Deps
	cfg  Config
	m    *machine
	log  *slog.Logger
	kick chan string
	// mu keeps one goroutine of this process on the runs at a time;
	// replicas are kept apart by the runs' versions in the store.
	mu sync.Mutex
	// seen is the incidents' state last considered (Updated and the length
	// of the history), so that a sweep skips what has not changed.
	seen map[string]string
	// cur is the sweeps' cursor over the incidents' changes, read from
	// the store at the first sweep; saved is its document as last stored.
	cur   *incident.ChangeCursor
	saved string
}

// cursorID is the KindState entity that keeps the sweeps' cursor.
const cursorID = "playbook-incident-cursor"

// errIncomplete: an incident whose alerts could not all be read yet, to
// be considered again by the next sweep.
var errIncomplete = errors.New("alerts not all stored yet")

// New returns an engine; it does nothing until Run or Sweep.
func New(cfg Config, d Deps) *Engine {
	if d.Now == nil {
		d.Now = time.Now
	}
	e := &Engine{d: d, cfg: cfg, log: d.Log.With("component", "playbook"), kick: make(chan string, 1024), seen: map[string]string{}}
	e.m = &machine{set: d.Set, policy: cfg.Policy(), fx: &engineFX{e: e}}
	return e
}

// Raised is for incident.Manager.OnRaised: the incidents are looked at
// soon. It never blocks; an incident that does not fit in the backlog is
// found by the next sweep.
func (e *Engine) Raised(_ context.Context, ids []string) {
	for _, id := range ids {
		select {
		case e.kick <- id:
		default:
		}
	}
}

// Changed is for incident.Manager.OnChange: a person's change (a
// resolution above all) is looked at soon. The engine's own are not.
func (e *Engine) Changed(ctx context.Context, actor, _ string, id string, _ map[string]any) {
	if !strings.HasPrefix(actor, "playbook:") {
		e.Raised(ctx, []string{id})
	}
}

// Run looks at incidents as it hears of them, and sweeps every Config.Scan
// until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.Scan)
	defer t.Stop()
	for {
		if err := e.Sweep(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("playbook sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case id := <-e.kick:
			if err := e.Consider(ctx, id); err != nil && ctx.Err() == nil {
				e.log.Error("playbooks for an incident failed; the next sweep tries again", "incident", id, "err", err)
			}
		}
	}
}

// Sweep considers every incident that changed since it was last
// considered, and advances every run that has not ended.
//
// It reads the incidents written since the last sweep from the change
// index, from a cursor kept in the store, not every incident. The first
// sweep of a process also considers every incident written within
// StartWithin: those are the ones a playbook loaded at this start may
// start on, as the sweep over every incident did; considering an older
// incident that did not change does nothing the advance of its runs
// does not.
func (e *Engine) Sweep(ctx context.Context) error {
	var errs []error
	// Runs still advance when the incidents cannot be read.
	if err := e.sweepChanged(ctx); err != nil {
		errs = append(errs, err)
	}
	runs, err := e.listRuns(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, r := range runs {
		if !r.Finished() {
			errs = append(errs, e.advance(ctx, &r))
		}
	}
	return errors.Join(errs...)
}

// sweepChanged considers the incidents changed since the last sweep.
func (e *Engine) sweepChanged(ctx context.Context) error {
	if e.cur == nil {
		cur, err := e.loadCursor(ctx)
		if err != nil {
			return err
		}
		if since := e.d.Now().Add(-e.cfg.StartWithin); cur.Since.After(since) {
			cur.Since = since
		}
		e.cur = cur
	}
	_, ok, err := e.d.Incidents.Changes(ctx, e.cur, func(inc *incident.Incident) error {
		if e.unchanged(*inc) {
			return nil
		}
		complete, err := e.consider(ctx, *inc)
		if err == nil && !complete {
			return errIncomplete
		}
		return err
	})
	if !ok && err == nil {
		return e.sweepAll(ctx)
	}
	err = withoutIncomplete(err)
	if serr := e.saveCursor(ctx); serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}

// sweepAll considers every incident that changed since it was last
// considered, reading every incident: before the change index is built.
func (e *Engine) sweepAll(ctx context.Context) error {
	incs, err := e.d.Incidents.List(ctx, nil)
	if err != nil {
		return err
	}
	var errs []error
	for _, inc := range incs {
		if e.unchanged(inc) {
			continue
		}
		if _, err := e.consider(ctx, inc); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// withoutIncomplete is err without the incidents left for the next sweep.
func withoutIncomplete(err error) error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if errors.Is(err, errIncomplete) {
			return nil
		}
		return err
	}
	var keep []error
	for _, e := range j.Unwrap() {
		if !errors.Is(e, errIncomplete) {
			keep = append(keep, e)
		}
	}
	return errors.Join(keep...)
}

// loadCursor reads the cursor the last sweep saved; an engine that never
// swept by changes starts from the first change.
func (e *Engine) loadCursor(ctx context.Context) (*incident.ChangeCursor, error) {
	cur := &incident.ChangeCursor{}
	doc, _, err := e.d.Store.GetEntity(ctx, store.KindState, cursorID)
	if errors.Is(err, store.ErrNotFound) {
		return cur, nil
	}
	if err != nil {
		return nil, fmt.Errorf("playbook cursor: %w", err)
	}
	if err := json.Unmarshal(doc, cur); err != nil {
		return nil, fmt.Errorf("playbook cursor: stored document: %w", err)
	}
	e.saved = string(doc)
	return cur, nil
}

// saveCursor writes the cursor when it moved. Replicas may overwrite each
// other's: each one's is true of the incidents it considered, and a run
// started or stopped by any is in the store.
func (e *Engine) saveCursor(ctx context.Context) error {
	doc, err := json.Marshal(e.cur)
	if err != nil {
		return fmt.Errorf("playbook cursor: %w", err)
	}
	if string(doc) == e.saved {
		return nil
	}
	err = store.RetryConflicts(ctx, func() error {
		_, ver, err := e.d.Store.GetEntity(ctx, store.KindState, cursorID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, err = e.d.Store.PutEntity(ctx, store.KindState, cursorID, doc, ver)
		return err
	})
	if err != nil {
		return fmt.Errorf("playbook cursor: %w", err)
	}
	e.saved = string(doc)
	return nil
}

func stateOf(inc incident.Incident) string {
	return fmt.Sprintf("%s/%d/%s", inc.Updated.Format(time.RFC3339Nano), len(inc.History), inc.Status)
}

func (e *Engine) unchanged(inc incident.Incident) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seen[inc.ID] == stateOf(inc)
}

// Consider starts the runs an incident triggers and advances its runs;
// for a resolved incident it stops them (see stop).
func (e *Engine) Consider(ctx context.Context, id string) error {
	inc, err := e.d.Incidents.Get(ctx, id)
	if err != nil {
		return err
	}
	_, err = e.consider(ctx, inc)
	return err
}

// consider is Consider of an incident read; complete is false when some
// of its alerts could not be read yet.
func (e *Engine) consider(ctx context.Context, inc incident.Incident) (complete bool, err error) {
	if inc.Status == incident.StatusResolved {
		if err := e.stop(ctx, inc); err != nil {
			return false, err
		}
	} else {
		complete, err := e.start(ctx, inc)
		if err != nil {
			return false, err
		}
		if !complete {
			// The pipeline files alerts into incidents before it stores
			// them: look again in a moment, and at every sweep until
			// they can be read.
			time.AfterFunc(time.Second, func() { e.Raised(ctx, []string{inc.ID}) })
			return false, nil
		}
	}
	e.mu.Lock()
	e.seen[inc.ID] = stateOf(inc)
	e.mu.Unlock()
	return true, nil
}

// start begins the run of every playbook the incident triggers that has
// none yet, and advances the runs it has. complete is false when some of
// the incident's alerts could not be read yet, so that a playbook they
// would trigger may still start.
func (e *Engine) start(ctx context.Context, inc incident.Incident) (complete bool, err error) {
	var cand *Candidate
	var errs []error
	complete = true
	for _, pb := range e.d.Set.Playbooks {
		r, err := e.getRun(ctx, RunID(inc.ID, pb.ID))
		if err == nil {
			if !r.Finished() {
				errs = append(errs, e.advance(ctx, &r))
			}
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		if e.d.Now().Sub(inc.Created) > e.cfg.StartWithin {
			continue
		}
		if cand == nil {
			c, all, err := e.candidate(ctx, inc)
			if err != nil {
				return false, err
			}
			cand, complete = &c, all
		}
		alert, ok := pb.Trigger.Match(*cand)
		if !ok {
			continue
		}
		r = *newRun(pb, cand.Incident, alert, e.d.Now().UTC())
		if err := e.putRun(ctx, &r); errors.Is(err, store.ErrConflict) {
			continue // another replica started it
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		e.log.Info("playbook started", "playbook", pb.ID, "incident", inc.ID, "run", r.ID)
		e.history(ctx, &r, map[string]any{"event": "started", "title": pb.Title, "alert": text(alert["event.id"])})
		errs = append(errs, e.advance(ctx, &r))
	}
	return complete, errors.Join(errs...)
}

// stop ends the runs of a resolved incident: an action still waiting is
// cancelled, and when the incident was resolved as benign or a false
// positive the containments done are rolled back.
func (e *Engine) stop(ctx context.Context, inc incident.Incident) error {
	undo := inc.Resolution == incident.ResolutionBenign || inc.Resolution == incident.ResolutionFalsePositive
	var errs []error
	for _, pb := range e.d.Set.Playbooks {
		r, err := e.getRun(ctx, RunID(inc.ID, pb.ID))
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, e.stopRun(ctx, &r, inc, undo))
	}
	return errors.Join(errs...)
}

func (e *Engine) stopRun(ctx context.Context, r *Run, inc incident.Incident, undo bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	pending := undone(r) > 0 && undo
	if r.Finished() && !pending || r.Status == RunRollingBack {
		if r.Status == RunRollingBack {
			return e.m.advance(ctx, r)
		}
		return nil
	}
	if p := r.Pending; !r.Finished() && p != nil && p.ActionID != "" {
		reason := fmt.Sprintf("sự cố đã đóng (%s) / incident resolved (%s) by %s", inc.Resolution, inc.Resolution, inc.ResponseEndedBy)
		if err := e.m.fx.cancel(ctx, p.ActionID, reason); err != nil {
			e.log.Warn("cancelling an action of a resolved incident failed", "run", r.ID, "action", p.ActionID, "err", err)
		}
		s := e.d.Set.Playbook(r.Playbook).Steps[p.Step]
		rec := StepRecord{Step: s.Name, Kind: s.Kind, What: "cancel " + s.Action, Outcome: OutcomeRefused, ActionID: p.ActionID, Detail: reason, At: e.d.Now().UTC()}
		r.Log, r.Pending = append(r.Log, rec), nil
		defer e.m.fx.record(ctx, r, rec)
	} else if !r.Finished() && (r.Pending == nil || r.Pending.ActionID == "") {
		// Between steps: the next one would act on a closed incident.
		r.Pending = nil
	}
	r.Status, r.Updated = RunDone, e.d.Now().UTC()
	if undo && undone(r) > 0 {
		r.Status = RunRollingBack
	}
	if err := e.m.fx.save(ctx, r); err != nil {
		return err
	}
	return e.m.advance(ctx, r)
}

func undone(r *Run) int {
	n := 0
	for _, u := range r.Undo {
		if !u.Done {
			n++
		}
	}
	return n
}

func (e *Engine) advance(ctx context.Context, r *Run) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.m.advance(ctx, r)
	if errors.Is(err, store.ErrConflict) {
		return nil // another replica moved it; the next sweep reads it again
	}
	return err
}

// candidate reads an incident's alerts, each over the event behind it;
// all says every alert (up to maxAlerts) was there to read.
func (e *Engine) candidate(ctx context.Context, inc incident.Incident) (c Candidate, all bool, err error) {
	data := incidentData(inc)
	if e.d.Level != nil {
		data.Level = e.d.Level(ctx, inc.Systems)
	}
	ids := inc.AlertIDs
	if len(ids) > maxAlerts {
		ids = ids[:maxAlerts]
	}
	alerts, err := e.d.Store.GetEvents(ctx, ids)
	if err != nil {
		return Candidate{}, false, fmt.Errorf("incident %s alerts: %w", inc.ID, err)
	}
	var src []string
	for _, al := range alerts {
		src = append(src, al.Strings("lachan.alert.source_ids")...)
	}
	sources := map[string]event.Event{}
	if len(src) > 0 {
		evs, err := e.d.Store.GetEvents(ctx, src)
		if err != nil {
			return Candidate{}, false, fmt.Errorf("incident %s events: %w", inc.ID, err)
		}
		for _, ev := range evs {
			sources[ev.ID] = ev
		}
	}
	c = Candidate{Incident: data}
	for _, al := range alerts {
		flat := map[string]any{}
		for _, id := range al.Strings("lachan.alert.source_ids") {
			if ev, ok := sources[id]; ok {
				maps(flat, ev)
			}
		}
		maps(flat, al)
		c.Alerts = append(c.Alerts, flat)
	}
	return c, len(alerts) == len(ids), nil
}

// maps copies an event's fields into flat, with its ID, time and dataset.
func maps(flat map[string]any, ev event.Event) {
	for k, v := range ev.Fields {
		flat[k] = v
	}
	flat["event.id"] = ev.ID
	flat["event.dataset"] = ev.Dataset
	flat["@timestamp"] = ev.Timestamp.UTC().Format(time.RFC3339Nano)
}

func incidentData(inc incident.Incident) IncidentData {
	d := IncidentData{ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Status: inc.Status, Unit: inc.Unit, Units: inc.Units,
		Host: HostData{ID: inc.Host.ID, Name: inc.Host.Name, IPs: inc.Host.IPs}, Rule: RuleData{ID: inc.Rule.ID, Name: inc.Rule.Name},
		Systems: inc.Systems, AlertCount: inc.AlertCount, Addresses: inc.Addresses}
	for _, r := range inc.Rules {
		d.Rules = append(d.Rules, r.ID)
	}
	if len(d.Rules) == 0 && inc.Rule.ID != "" {
		d.Rules = []string{inc.Rule.ID}
	}
	return d
}

// Runs returns the runs of an incident, oldest first.
func (e *Engine) Runs(ctx context.Context, incidentID string) ([]Run, error) {
	var out []Run
	for _, pb := range e.d.Set.Playbooks {
		r, err := e.getRun(ctx, RunID(incidentID, pb.ID))
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Run) int { return a.Started.Compare(b.Started) })
	return out, nil
}

func (e *Engine) getRun(ctx context.Context, id string) (Run, error) {
	doc, ver, err := e.d.Store.GetEntity(ctx, KindRun, id)
	if err != nil {
		return Run{}, fmt.Errorf("playbook run %s: %w", id, err)
	}
	var r Run
	if err := json.Unmarshal(doc, &r); err != nil {
		return Run{}, fmt.Errorf("playbook run %s: %w", id, err)
	}
	r.Version = ver
	return r, nil
}

func (e *Engine) listRuns(ctx context.Context) ([]Run, error) {
	ents, err := e.d.Store.ListEntities(ctx, KindRun)
	if err != nil {
		return nil, fmt.Errorf("playbook runs: %w", err)
	}
	out := make([]Run, 0, len(ents))
	for _, en := range ents {
		var r Run
		if err := json.Unmarshal(en.Doc, &r); err != nil {
			e.log.Error("playbook run unreadable; left as it is", "run", en.ID, "err", err)
			continue
		}
		r.Version = en.Version
		out = append(out, r)
	}
	return out, nil
}

func (e *Engine) putRun(ctx context.Context, r *Run) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("playbook run %s: %w", r.ID, err)
	}
	v, err := e.d.Store.PutEntity(ctx, KindRun, r.ID, b, r.Version)
	if err != nil {
		return fmt.Errorf("playbook run %s: %w", r.ID, err)
	}
	r.Version = v
	return nil
}

// history writes one entry of a run into its incident's history (and so
// into the audit trail); a failure is logged, the run goes on.
func (e *Engine) history(ctx context.Context, r *Run, detail map[string]any) {
	detail["playbook"], detail["run"] = r.Playbook, r.ID
	if err := e.d.Incidents.AddHistory(context.WithoutCancel(ctx), r.Incident, actor(r), incident.ActionPlaybook, detail); err != nil {
		e.log.Error("playbook step not recorded in the incident's history", "run", r.ID, "incident", r.Incident, "detail", detail, "err", err)
	}
}
