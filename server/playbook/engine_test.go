package playbook_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/playbooks"
	"lachan/server/audit"
	"lachan/server/incident"
	"lachan/server/notify"
	"lachan/server/playbook"
	"lachan/server/playbook/playbooktest"
	"lachan/server/store"
	"lachan/server/store/embedded"
)

// recordingActions stands in for the response-action service at its
// interface: it keeps every request, answers a repeated key with the same
// action as the contract says, and reports the states the test sets.
type recordingActions struct {
	mu        sync.Mutex
	calls     []playbook.ActionRequest
	byKey     map[string]string
	reqs      map[string]playbook.ActionRequest
	states    map[string]playbook.ActionStatus
	cancelled []string
	failOnce  bool
}

func newActions() *recordingActions {
	return &recordingActions{byKey: map[string]string{}, reqs: map[string]playbook.ActionRequest{}, states: map[string]playbook.ActionStatus{}}
}

func (a *recordingActions) RequestAction(_ context.Context, r playbook.ActionRequest) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, r)
	id, ok := a.byKey[r.Key]
	if !ok {
		id = fmt.Sprintf("act-%d", len(a.byKey)+1)
		a.byKey[r.Key] = id
		a.reqs[id] = r
		a.states[id] = playbook.ActionStatus{State: playbook.ActionPending}
	}
	if a.failOnce {
		// The request got there; its answer did not.
		a.failOnce = false
		return "", errors.New("connection reset")
	}
	return id, nil
}

func (a *recordingActions) ActionStatus(_ context.Context, id string) (playbook.ActionStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.states[id]
	if !ok {
		return st, store.ErrNotFound
	}
	return st, nil
}

func (a *recordingActions) CancelAction(_ context.Context, id, _, _ string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cancelled = append(a.cancelled, id)
	a.states[id] = playbook.ActionStatus{State: playbook.ActionCancelled}
	return nil
}

func (a *recordingActions) set(id string, st playbook.ActionStatus) {
	a.mu.Lock()
	a.states[id] = st
	a.mu.Unlock()
}

func (a *recordingActions) distinct() []playbook.ActionRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []playbook.ActionRequest
	for i := 1; i <= len(a.reqs); i++ {
		out = append(out, a.reqs[fmt.Sprintf("act-%d", i)])
	}
	return out
}

// world is a server's worth of real parts over one store directory.
type world struct {
	t       *testing.T
	dir     string
	st      store.Store
	inc     *incident.Manager
	trail   *audit.Trail
	queue   *notify.Queue
	engine  *playbook.Engine
	actions playbook.Actions
	level   int
	now     time.Time
	key     ed25519.PrivateKey
}

func newWorld(t *testing.T, actions playbook.Actions) *world {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	w := &world{t: t, dir: t.TempDir(), actions: actions, now: time.Now().UTC(), key: key}
	w.open()
	return w
}

func (w *world) clock() time.Time { return w.now }

// open builds every part over the store, as a server start does.
func (w *world) open() {
	ctx := context.Background()
	cfg := embedded.DefaultConfig()
	cfg.Dir = w.dir
	st, err := embedded.Open(cfg, logging.Discard())
	if err != nil {
		w.t.Fatal(err)
	}
	w.st = st
	w.t.Cleanup(func() { st.Close() })
	if w.trail, err = audit.Open(ctx, st, w.key, w.clock); err != nil {
		w.t.Fatal(err)
	}
	w.inc = incident.NewManager(st, incident.DefaultConfig(), w.clock)
	set, errs := playbook.Load(playbooks.FS, ".", "playbooks")
	if len(errs) > 0 {
		w.t.Fatal(errs)
	}
	ncfg := notify.DefaultConfig()
	ncfg.Channels = append(ncfg.Channels, notify.Channel{Name: "soc", Type: notify.TypeWebhook, URL: "https://127.0.0.1:9/hook", SecretFile: "unused"})
	w.queue = notify.NewQueue(st, ncfg, logging.Discard(), w.clock)
	w.engine = playbook.New(playbook.DefaultConfig(), playbook.Deps{
		Store: st, Incidents: w.inc, Set: set, Actions: w.actions, Notify: w.queue, Log: logging.Discard(), Now: w.clock,
		Level: func(context.Context, []string) int { return w.level },
	})
	trail := w.trail
	w.inc.OnChange = func(ctx context.Context, actor, action, id string, detail map[string]any) {
		if err := trail.Record(context.WithoutCancel(ctx), audit.Entry{Actor: actor, Role: "system", Action: "incident." + action, Object: id, Outcome: audit.OutcomeSuccess, Detail: detail}); err != nil {
			w.t.Errorf("audit: %v", err)
		}
		w.engine.Changed(ctx, actor, action, id, detail)
	}
	w.inc.OnRaised = w.engine.Raised
}

// restart drops every part and builds them again over the same store.
func (w *world) restart() {
	w.st.Close()
	w.open()
}

// raise stores a finding and its alert and files the alert into an
// incident, as the pipeline does.
func (w *world) raise(rule, level, yaraRule string) string {
	ctx := context.Background()
	src := event.New("yara.finding", w.now)
	src.ID = event.DeriveID("finding", rule, yaraRule, w.dir)
	src.Set("yara.rule", yaraRule)
	src.Set("file.path", `C:\Users\an\Downloads\hoadon.exe`)
	src.Set("host.id", "agent-7f3a")
	al := event.New(event.DatasetAlert, w.now)
	al.ID = event.DeriveID("alert", rule, src.ID)
	for k, v := range map[string]any{"rule.id": rule, "rule.name": "rule " + rule, "rule.level": level, "host.id": "agent-7f3a",
		"host.name": "pc-ward-01", "lachan.unit": "phuong-ben-thanh", "lachan.alert.source_ids": []string{src.ID}, "event.kind": "alert"} {
		al.Set(k, v)
	}
	if _, err := w.st.PutEvents(ctx, []event.Event{src, al}); err != nil {
		w.t.Fatal(err)
	}
	ids, err := w.inc.Raise(ctx, []event.Event{al})
	if err != nil || len(ids) != 1 {
		w.t.Fatalf("raise: %v %v", ids, err)
	}
	return ids[0]
}

func (w *world) sweep() {
	w.t.Helper()
	if err := w.engine.Sweep(context.Background()); err != nil {
		w.t.Fatalf("sweep: %v", err)
	}
}

// steps are the playbook entries of an incident's history as "what →
// outcome".
func (w *world) steps(id string) []string {
	w.t.Helper()
	inc, err := w.inc.Get(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, h := range inc.History {
		if h.Action == incident.ActionPlaybook && h.Detail["what"] != nil {
			out = append(out, fmt.Sprintf("%s → %s", h.Detail["what"], h.Detail["outcome"]))
		}
	}
	return out
}

func (w *world) queued() []notify.Entry {
	l, err := w.queue.List(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return l
}

const (
	ruleYARA  = "8a919511-8b0f-4715-ac9b-c2941a6c4b72"
	ruleEICAR = "3628b763-39e3-49ff-b3fa-3d43d12e8353"
)

// TestRansomwareIsolatedAfterApproval: a ransomware-like finding on a PC of
// a cấp độ 3 system asks two people to approve isolating it; across a
// restart the request is not made again; once approved and done the SOC
// is told; every step is in the incident's history and the audit trail;
// resolving the incident as benign releases the PC.
func TestRansomwareIsolatedAfterApproval(t *testing.T) {
	acts := newActions()
	w := newWorld(t, acts)
	w.level = 3
	id := w.raise(ruleYARA, "high", "Win_Ransom_LockBit3")
	w.sweep()
	reqs := acts.distinct()
	if len(reqs) != 1 {
		t.Fatalf("requests %+v", reqs)
	}
	r := reqs[0]
	if r.Kind != "isolate" || r.AgentID != "agent-7f3a" || r.Approvers != 2 || r.ApproverRole != "analyst" || r.Incident != id ||
		r.RequestedBy != "playbook:ransomware-isolate" || r.Expires != 2*time.Hour {
		t.Errorf("request %+v", r)
	}
	runs, _ := w.engine.Runs(context.Background(), id)
	if len(runs) != 1 || runs[0].Status != playbook.RunWaiting {
		t.Fatalf("runs %+v", runs)
	}

	w.restart()
	w.engine.Raised(context.Background(), []string{id})
	w.sweep()
	w.sweep()
	if n := len(acts.distinct()); n != 1 {
		t.Fatalf("%d actions after a restart, want the one", n)
	}
	acts.set("act-1", playbook.ActionStatus{State: playbook.ActionSucceeded, By: []string{"an", "binh"}})
	w.now = w.now.Add(10 * time.Minute)
	w.sweep()
	want := []string{
		"enrich context → done",
		"contain isolate agent=agent-7f3a approve=2×analyst → done",
		"notify soc template=ransomware-isolated → done",
	}
	if got := w.steps(id); !slices.Equal(got, want) {
		t.Fatalf("history:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	q := w.queued()
	if len(q) != 1 || q[0].Message.Channel != "soc" || !strings.Contains(q[0].Message.Subject, "Đã cô lập máy pc-ward-01") ||
		!strings.Contains(q[0].Message.Text, "Win_Ransom_LockBit3") || q[0].Message.Data["incident"] != id {
		t.Errorf("queued %+v", q)
	}
	recs, _, err := w.trail.List(context.Background(), audit.Filter{Action: "incident.playbook", Limit: 100})
	if err != nil || len(recs) != 4 { // started, then three steps
		t.Errorf("audit records %d, %v", len(recs), err)
	}

	// A person resolves it as benign: the PC is released.
	if _, err := w.inc.Resolve(context.Background(), id, "an", incident.Closing{As: incident.ResolutionBenign}); err != nil {
		t.Fatal(err)
	}
	w.sweep()
	reqs = acts.distinct()
	if len(reqs) != 2 || reqs[1].Kind != "release" || reqs[1].AgentID != "agent-7f3a" || reqs[1].Approvers != 0 {
		t.Fatalf("after benign: %+v", reqs)
	}
	runs, _ = w.engine.Runs(context.Background(), id)
	if runs[0].Status != playbook.RunRolledBack {
		t.Errorf("run %s", runs[0].Status)
	}
	w.sweep()
	if n := len(acts.distinct()); n != 2 {
		t.Errorf("%d actions, the release asked for twice?", n)
	}
}

// TestLostAnswerIsNotASecondAction: the request reached the action service
// but its answer was lost; the engine asks again under the same key and
// there is still one action.
func TestLostAnswerIsNotASecondAction(t *testing.T) {
	acts := newActions()
	acts.failOnce = true
	w := newWorld(t, acts)
	id := w.raise(ruleYARA, "high", "ransom_note_generic")
	if err := w.engine.Sweep(context.Background()); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("sweep: %v", err)
	}
	w.sweep()
	if len(acts.calls) != 2 || len(acts.distinct()) != 1 || acts.distinct()[0].Approvers != 1 {
		t.Errorf("calls %d, actions %+v", len(acts.calls), acts.distinct())
	}
	_ = id
}

// TestRefusedAndTimedOut: a refusal and a timeout both tell the SOC that
// the PC is not isolated; the timed-out action is cancelled.
func TestRefusedAndTimedOut(t *testing.T) {
	for _, c := range []struct {
		name    string
		answer  func(w *world, a *recordingActions)
		outcome string
	}{
		{"refused", func(_ *world, a *recordingActions) {
			a.set("act-1", playbook.ActionStatus{State: playbook.ActionRefused, By: []string{"an"}})
		}, "refused"},
		{"timed out", func(w *world, _ *recordingActions) { w.now = w.now.Add(3 * time.Hour) }, "timed_out"},
	} {
		t.Run(c.name, func(t *testing.T) {
			acts := newActions()
			w := newWorld(t, acts)
			id := w.raise(ruleYARA, "high", "Ryuk_Loader")
			w.sweep()
			c.answer(w, acts)
			w.sweep()
			want := []string{"enrich context → done", "contain isolate agent=agent-7f3a approve=1×analyst → " + c.outcome,
				"notify soc template=ransomware-not-isolated → done"}
			if got := w.steps(id); !slices.Equal(got, want) {
				t.Errorf("history %q", got)
			}
			if c.outcome == "timed_out" && !slices.Equal(acts.cancelled, []string{"act-1"}) {
				t.Errorf("cancelled %v", acts.cancelled)
			}
		})
	}
}

// TestNoActions: a server without response actions says so and still
// notifies.
func TestNoActions(t *testing.T) {
	w := newWorld(t, nil)
	id := w.raise(ruleYARA, "high", "Win_Ransom_LockBit3")
	w.sweep()
	want := []string{"enrich context → done", "contain isolate agent=agent-7f3a approve=1×analyst → unavailable",
		"notify soc template=ransomware-not-isolated → done"}
	if got := w.steps(id); !slices.Equal(got, want) {
		t.Errorf("history %q", got)
	}
}

// TestEICARResolvedBenign: the EICAR file is notified and resolved as
// benign by the playbook, which stops the reporting clocks.
func TestEICARResolvedBenign(t *testing.T) {
	w := newWorld(t, newActions())
	id := w.raise(ruleEICAR, "low", "SUSP_Just_EICAR")
	w.sweep()
	inc, err := w.inc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Status != incident.StatusResolved || inc.Resolution != incident.ResolutionBenign || inc.ResponseEndedBy != "playbook:eicar-benign" ||
		!inc.Notification.NotApplicable || len(inc.Notes) != 1 || !strings.Contains(inc.Notes[0].Text, "hoadon.exe") {
		t.Errorf("incident %+v", inc)
	}
	if q := w.queued(); len(q) != 1 || !strings.Contains(q[0].Message.Subject, "EICAR") {
		t.Errorf("queued %+v", q)
	}
	if got := w.steps(id); !slices.Equal(got, []string{"notify soc template=eicar-test-file → done", "resolve benign → done"}) {
		t.Errorf("history %q", got)
	}
}

// TestOldIncidentsNotStarted: turning playbooks on does not act on
// incidents raised long before.
func TestOldIncidentsNotStarted(t *testing.T) {
	acts := newActions()
	w := newWorld(t, acts)
	id := w.raise(ruleYARA, "high", "Win_Ransom_LockBit3")
	w.now = w.now.Add(25 * time.Hour)
	w.sweep()
	if runs, _ := w.engine.Runs(context.Background(), id); len(runs) != 0 || len(acts.calls) != 0 {
		t.Errorf("runs %+v, requests %+v", runs, acts.calls)
	}
}

// TestRunHearsOfRaisedIncidents: with sweeps an hour apart, an incident
// raised while the engine runs is handled at once, through OnRaised.
func TestRunHearsOfRaisedIncidents(t *testing.T) {
	w := newWorld(t, newActions())
	cfg := playbook.DefaultConfig()
	cfg.Scan = time.Hour
	set, _ := playbook.Load(playbooks.FS, ".", "playbooks")
	eng := playbook.New(cfg, playbook.Deps{Store: w.st, Incidents: w.inc, Set: set, Notify: w.queue, Log: logging.Discard(), Now: w.clock})
	w.inc.OnRaised = eng.Raised
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // past the first sweep
	id := w.raise(ruleEICAR, "low", "eicar")
	deadline := time.Now().Add(10 * time.Second)
	for {
		inc, err := w.inc.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if inc.Status == incident.StatusResolved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the raised incident was not handled within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestAlertStoredAfterRaise: the pipeline files an alert into an incident
// before it stores the alert; a look in between must not make the engine
// pass the incident over for good.
func TestAlertStoredAfterRaise(t *testing.T) {
	w := newWorld(t, newActions())
	ctx := context.Background()
	al := event.New(event.DatasetAlert, w.now)
	al.ID = "alert-late"
	for k, v := range map[string]any{"rule.id": ruleEICAR, "rule.name": "EICAR", "rule.level": "low", "host.id": "agent-7f3a",
		"lachan.unit": "phuong-ben-thanh", "yara.rule": "eicar", "event.kind": "alert"} {
		al.Set(k, v)
	}
	ids, err := w.inc.Raise(ctx, []event.Event{al})
	if err != nil {
		t.Fatal(err)
	}
	w.sweep()
	if runs, _ := w.engine.Runs(ctx, ids[0]); len(runs) != 0 {
		t.Fatalf("a run from an alert that cannot be read: %+v", runs)
	}
	if _, err := w.st.PutEvents(ctx, []event.Event{al}); err != nil {
		t.Fatal(err)
	}
	w.sweep()
	if inc, _ := w.inc.Get(ctx, ids[0]); inc.Status != incident.StatusResolved {
		t.Errorf("incident %s after the alert was stored", inc.Status)
	}
}

// TestRecordingActionsKeepTheContract: the stand-in used here behaves as
// playbooktest.Actions asks of the real service.
func TestRecordingActionsKeepTheContract(t *testing.T) {
	playbooktest.Actions(t, newActions(), playbook.ActionRequest{Key: "run/0/isolate", AgentID: "agent-1", Kind: "isolate", Approvers: 1, ApproverRole: "analyst"})
}

// TestPlaybookChangedUnderARun: a run waiting on a step that the
// playbook no longer has at that place ends, and says why.
func TestPlaybookChangedUnderARun(t *testing.T) {
	acts := newActions()
	w := newWorld(t, acts)
	id := w.raise(ruleYARA, "high", "Win_Ransom_LockBit3")
	w.sweep() // waiting for the isolation's approval
	set, errs := playbook.Load(playbooks.FS, ".", "playbooks")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	pb := set.Playbook("ransomware-isolate")
	pb.Steps = pb.Steps[1:] // "context" removed: step 1 is now another step
	eng := playbook.New(playbook.DefaultConfig(), playbook.Deps{Store: w.st, Incidents: w.inc, Set: set, Actions: acts, Notify: w.queue, Log: logging.Discard(), Now: w.clock})
	if err := eng.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	runs, _ := eng.Runs(context.Background(), id)
	last := runs[0].Log[len(runs[0].Log)-1]
	if runs[0].Status != playbook.RunDone || last.What != "abandon" || !strings.Contains(last.Detail, "the playbook changed") || len(acts.distinct()) != 1 {
		t.Errorf("run %s, last %+v, actions %d", runs[0].Status, last, len(acts.distinct()))
	}
}
