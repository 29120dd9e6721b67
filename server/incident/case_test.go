package incident

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// newCase raises one incident on host h1 and returns it with its manager.
func newCase(t *testing.T) (*Manager, *fakeClock, Incident) {
	t.Helper()
	clk := &fakeClock{t: t0}
	m := NewManager(openStore(t), DefaultConfig(), clk.now)
	return m, clk, raiseOne(t, m)
}

func TestStatusTransitions(t *testing.T) {
	ctx := context.Background()
	type op func(m *Manager, id string) error
	ack := func(m *Manager, id string) error { _, err := m.Ack(ctx, id, "an"); return err }
	start := func(m *Manager, id string) error { _, err := m.Start(ctx, id, "an"); return err }
	resolve := func(m *Manager, id string) error { _, err := m.Resolve(ctx, id, "an", Closing{}); return err }
	reopen := func(m *Manager, id string) error { _, err := m.Reopen(ctx, id, "an"); return err }
	cases := []struct {
		name    string
		steps   []op
		want    string // status after the steps
		wantErr string // the last step's error, if it must fail
	}{
		{"ack", []op{ack}, StatusAcknowledged, ""},
		{"ack start resolve", []op{ack, start, resolve}, StatusResolved, ""},
		{"start from new", []op{start}, StatusInProgress, ""},
		{"resolve from new", []op{resolve}, StatusResolved, ""},
		{"reopen", []op{resolve, reopen}, StatusAcknowledged, ""},
		{"reopen then resolve", []op{resolve, reopen, start, resolve}, StatusResolved, ""},
		{"ack twice", []op{ack, ack}, StatusAcknowledged, "cannot ack an incident that is acknowledged (only one that is new)"},
		{"ack in progress", []op{start, ack}, StatusInProgress, "cannot ack an incident that is in_progress"},
		{"start twice", []op{start, start}, StatusInProgress, "cannot start an incident that is in_progress (only one that is new or acknowledged)"},
		{"resolve twice", []op{resolve, resolve}, StatusResolved, "cannot resolve an incident that is resolved"},
		{"start resolved", []op{resolve, start}, StatusResolved, "cannot start an incident that is resolved"},
		{"reopen open", []op{reopen}, StatusNew, "cannot reopen an incident that is new (only one that is resolved)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _, inc := newCase(t)
			var err error
			for i, s := range tc.steps {
				if err = s(m, inc.ID); err != nil && i < len(tc.steps)-1 {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("last step: %v", err)
			case tc.wantErr != "" && (!errors.Is(err, ErrTransition) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("last step: %v, want ErrTransition saying %q", err, tc.wantErr)
			}
			got, _ := m.Get(ctx, inc.ID)
			if got.Status != tc.want {
				t.Fatalf("status %s, want %s", got.Status, tc.want)
			}
		})
	}
}

func TestResolveRecordsWhoAndHow(t *testing.T) {
	ctx := context.Background()
	m, clk, inc := newCase(t)
	var heard []string
	m.OnChange = func(_ context.Context, actor, action, id string, detail map[string]any) {
		heard = append(heard, fmt.Sprintf("%s %s %s %v", actor, action, id, detail["resolution"]))
	}
	clk.advance(time.Hour)
	if _, err := m.Resolve(ctx, inc.ID, "an", Closing{As: "maybe"}); !errors.Is(err, ErrResolution) {
		t.Fatalf("unknown resolution: %v", err)
	}
	if _, err := m.Resolve(ctx, inc.ID, "an", Closing{As: ResolutionDuplicate}); !errors.Is(err, ErrResolution) {
		t.Fatalf("duplicate without a merge: %v", err)
	}
	got, err := m.Resolve(ctx, inc.ID, "an", Closing{As: ResolutionTruePositive, Note: "đã cách ly máy / host isolated"})
	if err != nil {
		t.Fatal(err)
	}
	last := got.History[len(got.History)-1]
	if got.Resolution != ResolutionTruePositive || last.By != "an" || last.Action != ActionResolve || !last.At.Equal(clk.now()) {
		t.Fatalf("resolved: %+v, history %+v", got, got.History)
	}
	if len(got.Notes) != 1 || got.Notes[0].Author != "an" || got.Notes[0].Text != "đã cách ly máy / host isolated" {
		t.Fatalf("notes %+v", got.Notes)
	}
	if got.History[0].Action != ActionCreated || got.History[0].By != ByDetection {
		t.Fatalf("first history entry %+v", got.History[0])
	}
	if want := []string{"an resolve " + inc.ID + " true_positive"}; !slices.Equal(heard, want) {
		t.Fatalf("OnChange heard %q, want %q", heard, want)
	}
}

func TestNotes(t *testing.T) {
	ctx := context.Background()
	m, clk, inc := newCase(t)
	for i, text := range []string{"first", "second"} {
		clk.advance(time.Minute)
		if _, err := m.AddNote(ctx, inc.ID, fmt.Sprint("user-", i), text); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"", "   ", strings.Repeat("x", MaxNoteLen+1)} {
		if _, err := m.AddNote(ctx, inc.ID, "x", bad); !errors.Is(err, ErrBadNote) {
			t.Fatalf("note of %d characters: %v", len(bad), err)
		}
	}
	got, _ := m.Get(ctx, inc.ID)
	if len(got.Notes) != 2 || got.Notes[1].Author != "user-1" || got.Notes[1].Text != "second" || !got.Notes[1].At.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("notes %+v", got.Notes)
	}
	if n := len(got.History); n != 3 || got.History[2].Action != ActionNote {
		t.Fatalf("history %+v", got.History)
	}
}

func TestAssignOnlyExistingUsers(t *testing.T) {
	ctx := context.Background()
	m, _, inc := newCase(t)
	m.UserExists = func(_ context.Context, name string) (bool, error) { return name == "soc-lan", nil }
	if _, err := m.AssignUser(ctx, inc.ID, "nobody", "admin"); !errors.Is(err, ErrUnknownUser) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Fatalf("unknown user: %v", err)
	}
	got, err := m.AssignUser(ctx, inc.ID, "soc-lan", "admin")
	if err != nil || got.Assignee != "soc-lan" {
		t.Fatalf("assign: %v %+v", err, got)
	}
	m.UserExists = func(context.Context, string) (bool, error) { return false, errors.New("accounts offline") }
	if _, err := m.AssignUser(ctx, inc.ID, "soc-lan", "admin"); err == nil || errors.Is(err, ErrUnknownUser) {
		t.Fatalf("lookup failure: %v", err)
	}
}

func TestClocksStopOnFalsePositiveAndBenign(t *testing.T) {
	ctx := context.Background()
	for _, as := range []string{ResolutionFalsePositive, ResolutionBenign, ResolutionTruePositive} {
		t.Run(as, func(t *testing.T) {
			m, clk, inc := newCase(t)
			st := m.st
			clk.advance(time.Hour)
			if _, err := m.Resolve(ctx, inc.ID, "an", Closing{As: as}); err != nil {
				t.Fatal(err)
			}
			clk.advance(30 * 24 * time.Hour) // far past both deadlines
			got, _ := m.Get(ctx, inc.ID)
			c := got.Clocks(clk.now())
			n, err := NewWatcher(m, slog.New(slog.DiscardHandler)).Scan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if as == ResolutionTruePositive {
				if c.Notification.State != ClockOverdue || c.FinalReport.State != ClockOverdue || n != 2 {
					t.Fatalf("true positive: clocks %+v, %d notices", c, n)
				}
				return
			}
			if c.Notification.State != ClockNotApplicable || c.FinalReport.State != ClockNotApplicable || c.Notification.Late || n != 0 {
				t.Fatalf("%s: clocks %+v, %d notices", as, c, n)
			}
			if len(notices(t, st)) != 0 {
				t.Fatal("notices raised for a closed false alarm")
			}
			// Reopened, the clocks run again.
			got, err = m.Reopen(ctx, inc.ID, "an")
			if err != nil {
				t.Fatal(err)
			}
			if c := got.Clocks(clk.now()); c.Notification.State != ClockOverdue || c.FinalReport.State != ClockPending || got.Resolution != "" {
				t.Fatalf("reopened: clocks %+v resolution %q", c, got.Resolution)
			}
		})
	}
}

func TestMergeMovesAlertsAndEvidence(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: t0}
	m := NewManager(openStore(t), DefaultConfig(), clk.now)
	// Two hosts, so two incidents.
	if _, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "low", 0), alert("h1", "r1", "low", time.Minute), alert("h2", "r2", "critical", 2*time.Minute)}); err != nil {
		t.Fatal(err)
	}
	all, _ := m.List(ctx, nil)
	if len(all) != 2 {
		t.Fatalf("%d incidents", len(all))
	}
	dst, src := all[0], all[1] // newest first: h2's, then h1's
	clk.advance(time.Hour)
	for range 2 { // merging again changes nothing
		if _, err := m.Merge(ctx, src.ID, dst.ID, "an"); err != nil {
			t.Fatal(err)
		}
	}
	gotDst, _ := m.Get(ctx, dst.ID)
	gotSrc, _ := m.Get(ctx, src.ID)
	if gotDst.AlertCount != 3 || len(gotDst.AlertIDs) != 3 || len(gotDst.EventIDs) != 3 || gotDst.Severity != "critical" ||
		!gotDst.FirstSeen.Equal(t0) || !slices.Equal(gotDst.Merged, []string{src.ID}) || len(gotDst.Rules) != 2 {
		t.Fatalf("target after merge: %+v", gotDst)
	}
	if gotSrc.Status != StatusResolved || gotSrc.Resolution != ResolutionDuplicate || gotSrc.DuplicateOf != dst.ID ||
		gotSrc.Clocks(clk.now()).Notification.State != ClockNotApplicable {
		t.Fatalf("merged incident: %+v", gotSrc)
	}
	if n := len(gotDst.History); gotDst.History[n-1].Action != ActionMerge || gotDst.History[n-1].By != "an" {
		t.Fatalf("target history %+v", gotDst.History)
	}
	// The duplicate is out of the index: a later alert of its host does
	// not join it.
	late := alert("h1", "r1", "low", 20*time.Minute)
	if ids, err := m.Raise(ctx, []event.Event{late}); err != nil || len(ids) != 1 || ids[0] == src.ID {
		t.Fatalf("a later alert of h1 went to %v (%v), not to a new incident", ids, err)
	}
	for _, tc := range []struct {
		id, into string
		want     error
	}{
		{dst.ID, dst.ID, ErrMerge},
		{src.ID, "nope", store.ErrNotFound},
		{dst.ID, src.ID, ErrMerge}, // into a duplicate
	} {
		if _, err := m.Merge(ctx, tc.id, tc.into, "an"); !errors.Is(err, tc.want) {
			t.Errorf("merge %s into %s: %v, want %v", tc.id, tc.into, err, tc.want)
		}
	}
	if _, err := m.Reopen(ctx, src.ID, "an"); !errors.Is(err, ErrTransition) || !strings.Contains(err.Error(), dst.ID) {
		t.Fatalf("reopen a duplicate: %v", err)
	}
}

func TestLinkBothWays(t *testing.T) {
	ctx := context.Background()
	m := NewManager(openStore(t), DefaultConfig(), func() time.Time { return t0 })
	if _, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "low", 0), alert("h2", "r1", "low", 0)}); err != nil {
		t.Fatal(err)
	}
	all, _ := m.List(ctx, nil)
	a, b := all[0].ID, all[1].ID
	for range 2 {
		if _, err := m.Link(ctx, a, b, "an"); err != nil {
			t.Fatal(err)
		}
	}
	ga, _ := m.Get(ctx, a)
	gb, _ := m.Get(ctx, b)
	if !slices.Equal(ga.Links, []string{b}) || !slices.Equal(gb.Links, []string{a}) {
		t.Fatalf("links %v %v", ga.Links, gb.Links)
	}
	if _, err := m.Link(ctx, a, a, "an"); !errors.Is(err, ErrMerge) {
		t.Fatalf("self link: %v", err)
	}
}

func TestGroupingAcrossRulesIntoATimeline(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := NewManager(st, DefaultConfig(), func() time.Time { return t0 })
	// One finding raising a rule and a correlation, stored like the
	// pipeline stores them.
	finding := event.New(event.DatasetYARA, t0)
	finding.Set("host.id", "h1")
	var alerts []event.Event
	for i, rule := range []string{"yara-eicar", "yara-finding", "correlation-yara-network"} {
		al := event.New(event.DatasetAlert, t0.Add(time.Duration(i)*time.Second))
		al.ID = event.DeriveID("alert", rule, finding.ID)
		al.Set("host.id", "h1")
		al.Set("rule.id", rule)
		al.Set("rule.name", rule)
		al.Set("rule.level", []string{"low", "critical", "high"}[i])
		al.Set("lachan.alert.source_ids", []string{finding.ID})
		alerts = append(alerts, al)
	}
	if _, err := st.PutEvents(ctx, append([]event.Event{finding}, alerts...)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Raise(ctx, alerts[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Raise(ctx, alerts[1:]); err != nil {
		t.Fatal(err)
	}
	all, _ := m.List(ctx, nil)
	if len(all) != 1 || all[0].AlertCount != 3 || all[0].Severity != "critical" || len(all[0].Rules) != 3 {
		t.Fatalf("incidents %+v", all)
	}
	d, err := m.Show(ctx, all[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, ev := range d.Evidence {
		ids = append(ids, ev.ID)
		if i > 0 && ev.Timestamp.Before(d.Evidence[i-1].Timestamp) {
			t.Fatalf("evidence out of time order at %d", i)
		}
	}
	if len(ids) != 4 || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 4 {
		t.Fatalf("timeline %v, want the finding and three alerts once each", ids)
	}
}

func TestIDPrefixes(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := NewManager(st, DefaultConfig(), nil)
	put := func(id, unit string) {
		inc := Incident{ID: id, Unit: unit, Status: StatusNew}
		if err := m.put(ctx, &inc); err != nil {
			t.Fatal(err)
		}
	}
	put("abcdef0011112222", "ward-1")
	put("abcdef0099998888", "ward-1")
	put("abcdef00ffff0000", "ward-2")
	cases := []struct {
		ref   string
		units []string
		want  string
		err   error
	}{
		{"abcdef0011112222", nil, "abcdef0011112222", nil},
		{"abcdef001", nil, "abcdef0011112222", nil},
		{"abcdef00", nil, "", ErrAmbiguous},
		{"abcdef00", []string{"ward-2"}, "abcdef00ffff0000", nil}, // only its own are candidates
		{"abcdef0", nil, "", store.ErrNotFound},                   // too short
		{"12345678", nil, "", store.ErrNotFound},
		{"abcdef0011112222", []string{"ward-2"}, "", store.ErrNotFound},
	}
	for _, tc := range cases {
		got, err := m.Lookup(ctx, tc.ref, tc.units)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Lookup(%q, %v) = %q, %v; want %q, %v", tc.ref, tc.units, got, err, tc.want, tc.err)
		}
	}
	if _, err := m.Lookup(ctx, "abcdef00", nil); err == nil || !strings.Contains(err.Error(), "3 incidents") {
		t.Errorf("ambiguous prefix error %v does not count the candidates", err)
	}
	if _, err := m.Lookup(ctx, "abc", nil); !errors.Is(err, ErrShortPrefix) {
		t.Errorf("short prefix error %v", err)
	}
}

func TestSearchFilters(t *testing.T) {
	ctx := context.Background()
	m := NewManager(openStore(t), DefaultConfig(), func() time.Time { return t0 })
	if _, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "low", 0), alert("h2", "powershell", "high", 3*time.Hour)}); err != nil {
		t.Fatal(err)
	}
	all, _ := m.List(ctx, nil)
	newer, older := all[0], all[1]
	if _, err := m.Resolve(ctx, older.ID, "an", Closing{As: ResolutionBenign}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AssignUser(ctx, newer.ID, "soc-lan", "admin"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		units []string
		f     Filter
		want  []string
	}{
		{"all", nil, Filter{}, []string{newer.ID, older.ID}},
		{"status", nil, Filter{Status: []string{StatusResolved}}, []string{older.ID}},
		{"severity", nil, Filter{Severity: []string{"high", "critical"}}, []string{newer.ID}},
		{"assignee", nil, Filter{Assignee: "soc-lan"}, []string{newer.ID}},
		{"since", nil, Filter{Since: t0.Add(time.Hour)}, []string{newer.ID}},
		{"query", nil, Filter{Query: "POWERSHELL"}, []string{newer.ID}},
		{"unit", nil, Filter{Unit: "ward-1"}, []string{newer.ID, older.ID}},
		{"unit outside scope", []string{"ward-2"}, Filter{Unit: "ward-1"}, nil},
	}
	for _, tc := range cases {
		got, err := m.Search(ctx, tc.units, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, inc := range got {
			ids = append(ids, inc.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, ids, tc.want)
		}
	}
}

func TestConcurrentCaseChanges(t *testing.T) {
	ctx := context.Background()
	m, _, inc := newCase(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.AddNote(ctx, inc.ID, "an", fmt.Sprint("note ", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ := m.Get(ctx, inc.ID)
	if len(got.Notes) != 8 {
		t.Fatalf("%d notes, want 8", len(got.Notes))
	}
}
