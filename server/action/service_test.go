package action

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/internal/action"
	"lachan/internal/wire"
	"lachan/server/audit"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/server/system"
)

type trail struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (t *trail) Record(_ context.Context, e audit.Entry) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries = append(t.entries, e)
	return nil
}

func (t *trail) has(action, object, outcome string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.entries {
		if e.Action == action && e.Object == object && e.Outcome == outcome {
			return true
		}
	}
	return false
}

type systems []system.System

func (s systems) List(context.Context) ([]system.System, error) { return s, nil }

type fixture struct {
	svc   *Service
	trail *trail
	pub   ed25519.PublicKey
	now   *time.Time
	pc1   fleet.Agent
	pc2   fleet.Agent
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	st := embeddedtest.Open(t)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fl := fleet.New(st, clock)
	pc1, _ := fl.Enroll(ctx, "ward-1", wire.Host{Name: "pc-1"})
	pc2, _ := fl.Enroll(ctx, "ward-2", wire.Host{Name: "db-1"})
	pub, priv, _ := ed25519.GenerateKey(nil)
	tr := &trail{}
	sys := systems{{ID: "hr-db", Level: 3, Owner: "ward-2", Assets: system.Assets{Agents: system.Agents{Hosts: []string{"db-*"}}}}}
	svc := New(DefaultConfig(), st, fl, sys, tr, priv, slog.New(slog.NewTextHandler(io.Discard, nil)), clock)
	return fixture{svc: svc, trail: tr, pub: pub, now: &now, pc1: pc1, pc2: pc2}
}

func TestApprovalGate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, err := f.svc.Request(ctx, Request{AgentID: f.pc1.ID, Kind: action.KindQuarantineFile, Args: map[string]string{"path": "/tmp/x"}, By: "an", Approvals: 1})
	if err != nil || a.Status != StatusPending || a.Needed != 1 {
		t.Fatalf("request: %+v %v", a, err)
	}
	if got, _ := f.svc.Pending(ctx, f.pc1.ID); len(got) != 0 {
		t.Fatal("an unapproved action was delivered")
	}
	if _, err := f.svc.Approve(ctx, a.ID, "an"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("self-approval: %v", err)
	}
	if !f.trail.has("action.approve", a.ID, audit.OutcomeFailure) {
		t.Fatal("refused approval not audited")
	}
	a, err = f.svc.Approve(ctx, a.ID, "binh")
	if err != nil || a.Status != StatusApproved || a.Signed == nil {
		t.Fatalf("approve: %+v %v", a, err)
	}
	// Delivered once, verifiable by the agent it names only.
	got, err := f.svc.Pending(ctx, f.pc1.ID)
	if err != nil || len(got) != 1 {
		t.Fatalf("pending: %v %v", got, err)
	}
	if again, _ := f.svc.Pending(ctx, f.pc1.ID); len(again) != 0 {
		t.Fatal("delivered twice")
	}
	sa, err := action.Verify(got[0], f.pub, f.pc1.ID, *f.now)
	if err != nil || sa.ID != a.ID || sa.Args["path"] != "/tmp/x" {
		t.Fatalf("verify: %+v %v", sa, err)
	}
	if _, err := action.Verify(got[0], f.pub, f.pc2.ID, *f.now); !errors.Is(err, action.ErrMisdirect) {
		t.Fatalf("other agent: %v", err)
	}
	if _, err := f.svc.Cancel(ctx, a.ID, "binh"); !errors.Is(err, ErrState) {
		t.Fatalf("cancel after delivery: %v", err)
	}
	// The result: the first stands, another agent's is refused.
	res := action.Result{ActionID: a.ID, Status: action.ResultDone, Evidence: map[string]string{"file.hash.sha256": "ab"}, File: []byte("x")}
	if err := f.svc.Result(ctx, f.pc2.ID, res); !errors.Is(err, ErrNotYours) {
		t.Fatalf("other agent's result: %v", err)
	}
	if err := f.svc.Result(ctx, f.pc1.ID, res); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Result(ctx, f.pc1.ID, action.Result{ActionID: a.ID, Status: action.ResultRefused, Reason: "replayed"}); err != nil {
		t.Fatal(err)
	}
	a, _ = f.svc.Get(ctx, a.ID)
	if a.Status != StatusDone || a.Result.Evidence["received.size"] != "1" {
		t.Fatalf("after results: %+v", a)
	}
	if b, err := f.svc.File(ctx, a.ID); err != nil || string(b) != "x" {
		t.Fatalf("file: %q %v", b, err)
	}
	for _, w := range []string{"action.request", "action.approve", "action.result"} {
		if !f.trail.has(w, a.ID, audit.OutcomeSuccess) {
			t.Errorf("%s not audited", w)
		}
	}
	// A refusal of an action this server never made is audited and acknowledged.
	if err := f.svc.Result(ctx, f.pc1.ID, action.Result{ActionID: "forged-1", Status: action.ResultRefused, Reason: "forged"}); err != nil ||
		!f.trail.has("action.result", "forged-1", audit.OutcomeFailure) {
		t.Fatalf("unknown action's refusal: %v", err)
	}
}

func TestTwoPersonRule(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	// db-1 belongs to a cấp độ 3 system: isolating it needs two people.
	a, err := f.svc.Request(ctx, Request{AgentID: f.pc2.ID, Kind: action.KindIsolate, By: "an", Approvals: 1})
	if err != nil || a.Needed != 2 || !strings.Contains(a.Why, "hr-db") {
		t.Fatalf("request: %+v %v", a, err)
	}
	if a, _ = f.svc.Approve(ctx, a.ID, "binh"); a.Status != StatusPending {
		t.Fatalf("one approval of two: %s", a.Status)
	}
	if _, err := f.svc.Approve(ctx, a.ID, "binh"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("same person twice: %v", err)
	}
	if a, err = f.svc.Approve(ctx, a.ID, "chi"); err != nil || a.Status != StatusApproved {
		t.Fatalf("second approver: %+v %v", a, err)
	}
	// Other kinds, and other PCs, keep what was asked.
	b, _ := f.svc.Request(ctx, Request{AgentID: f.pc2.ID, Kind: action.KindCollectFile, Args: map[string]string{"path": "/x"}, By: "an", Approvals: 0})
	c, _ := f.svc.Request(ctx, Request{AgentID: f.pc1.ID, Kind: action.KindIsolate, By: "playbook:ransomware", Approvals: 1})
	if b.Needed != 0 || b.Status != StatusApproved || c.Needed != 1 {
		t.Fatalf("collect on db-1: %+v; isolate pc-1: %+v", b, c)
	}
}

func TestCancelExpireAndBadRequests(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, _ := f.svc.Request(ctx, Request{AgentID: f.pc1.ID, Kind: action.KindIsolate, By: "an", Approvals: 0})
	if a, err := f.svc.Cancel(ctx, a.ID, "an"); err != nil || a.Status != StatusCancelled {
		t.Fatalf("cancel: %+v %v", a, err)
	}
	if got, _ := f.svc.Pending(ctx, f.pc1.ID); len(got) != 0 {
		t.Fatal("a cancelled action was delivered")
	}
	if !f.trail.has("action.cancel", a.ID, audit.OutcomeSuccess) {
		t.Fatal("cancel not audited")
	}
	b, _ := f.svc.Request(ctx, Request{AgentID: f.pc1.ID, Kind: action.KindRelease, By: "an", Approvals: 0})
	*f.now = f.now.Add(5 * time.Hour)
	if got, _ := f.svc.Pending(ctx, f.pc1.ID); len(got) != 0 {
		t.Fatal("an expired action was delivered")
	}
	if b, _ = f.svc.Get(ctx, b.ID); b.Status != StatusExpired {
		t.Fatalf("status after expiry: %s", b.Status)
	}
	if _, err := f.svc.Approve(ctx, b.ID, "binh"); !errors.Is(err, ErrState) {
		t.Fatalf("approve expired: %v", err)
	}
	if n, err := f.svc.Expire(ctx); err != nil || n != 1 || !f.trail.has("action.expire", b.ID, audit.OutcomeSuccess) {
		t.Fatalf("expire: %d %v", n, err)
	}
	if n, _ := f.svc.Expire(ctx); n != 0 {
		t.Fatalf("expired twice: %d", n)
	}
	for _, r := range []Request{
		{AgentID: f.pc1.ID, Kind: "format-disk", By: "an"},
		{AgentID: f.pc1.ID, Kind: action.KindKillProcess, Args: map[string]string{"pid": "42"}, By: "an"},
		{AgentID: f.pc1.ID, Kind: action.KindIsolate, By: ""},
		{AgentID: f.pc1.ID, Kind: action.KindIsolate, By: "an", Approvals: 3},
		{AgentID: f.pc1.ID, Kind: action.KindIsolate, By: "an", Expires: f.now.Add(48 * time.Hour)},
	} {
		if _, err := f.svc.Request(ctx, r); !errors.Is(err, ErrBadRequest) {
			t.Errorf("request %+v: %v", r, err)
		}
	}
	if _, err := f.svc.Request(ctx, Request{AgentID: "nope", Kind: action.KindIsolate, By: "an"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown agent: %v", err)
	}
	if _, err := f.svc.fleet.Revoke(ctx, f.pc2.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Request(ctx, Request{AgentID: f.pc2.ID, Kind: action.KindIsolate, By: "an"}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("revoked agent: %v", err)
	}
	list, _ := f.svc.List(ctx, Filter{AgentID: f.pc1.ID})
	scoped, _ := f.svc.List(ctx, Filter{Units: []string{"ward-2"}})
	if len(list) != 2 || len(scoped) != 0 {
		t.Fatalf("list: %d, scoped to ward-2: %d", len(list), len(scoped))
	}
}

type notes struct{ got []string }

func (n *notes) AddNote(_ context.Context, id, by, text string) (incident.Incident, error) {
	n.got = append(n.got, id+" "+by+" "+text)
	return incident.Incident{}, nil
}

// TestIncidentNotes: every step of an action answering an incident is
// noted on its case.
func TestIncidentNotes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	n := &notes{}
	f.svc.SetIncidents(n)
	a, _ := f.svc.Request(ctx, Request{AgentID: f.pc1.ID, Kind: action.KindIsolate, Incident: "inc-1", By: "an", Approvals: 1})
	f.svc.Approve(ctx, a.ID, "binh")
	f.svc.Pending(ctx, f.pc1.ID)
	f.svc.Result(ctx, f.pc1.ID, action.Result{ActionID: a.ID, Status: action.ResultDone})
	if len(n.got) != 3 || !strings.HasPrefix(n.got[0], "inc-1 an ") || !strings.Contains(n.got[1], "binh") || !strings.Contains(n.got[2], "result done") {
		t.Fatalf("notes: %q", n.got)
	}
	f.svc.Request(ctx, Request{AgentID: f.pc1.ID, Kind: action.KindRelease, By: "an", Approvals: 0})
	if len(n.got) != 3 {
		t.Fatalf("an action without an incident was noted: %q", n.got)
	}
}

// TestRequeue: an approved action missing from its agent's queue (a crash
// between storing and queueing) is queued again and delivered once.
func TestRequeue(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, _ := f.svc.Request(ctx, Request{AgentID: f.pc1.ID, Kind: action.KindRelease, By: "an", Approvals: 0})
	if err := f.svc.dequeue(ctx, f.pc1.ID, []string{a.ID}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.Pending(ctx, f.pc1.ID); len(got) != 0 {
		t.Fatal("delivered without being queued")
	}
	if n, err := f.svc.Requeue(ctx); err != nil || n != 1 {
		t.Fatalf("requeue: %d %v", n, err)
	}
	if got, _ := f.svc.Pending(ctx, f.pc1.ID); len(got) != 1 {
		t.Fatal("not delivered after requeue")
	}
	if n, _ := f.svc.Requeue(ctx); n != 0 {
		t.Fatalf("a delivered action was queued again: %d", n)
	}
}
