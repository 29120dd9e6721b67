package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// tagged makes a small event whose "label" field tells copies with the same
// ID apart.
func tagged(id, label string) event.Event {
	return Event(id, T0.Add(time.Duration(len(id))*time.Second), event.DatasetOsquery,
		map[string]any{"label": label, "lachan.unit": "ward-1"})
}

func testPutEvents(t *testing.T, open Opener) {
	// Each batch entry is "id" or "id:label"; the first copy of an ID must
	// be the one kept.
	tests := []struct {
		name      string
		batches   [][]string
		wantFresh [][]string
		wantLabel map[string]string
	}{
		{"new events", [][]string{{"a", "b", "c"}}, [][]string{{"a", "b", "c"}}, nil},
		{"empty batch", [][]string{{}}, [][]string{{}}, nil},
		{"same id twice in one batch", [][]string{{"a:1", "b", "a:2"}}, [][]string{{"a", "b"}},
			map[string]string{"a": "1"}},
		{"same id across batches", [][]string{{"a:1", "b"}, {"b", "c"}, {"a:2", "b", "c"}},
			[][]string{{"a", "b"}, {"c"}, {}}, map[string]string{"a": "1"}},
		{"only duplicates", [][]string{{"x", "y"}, {"y", "x", "y"}}, [][]string{{"x", "y"}, {}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			all := map[string]bool{}
			for i, batch := range tc.batches {
				evs := make([]event.Event, len(batch))
				for j, spec := range batch {
					id, label, _ := cut(spec)
					evs[j] = tagged(id, label)
					all[id] = true
				}
				fresh := put(t, s, evs)
				if got := ids(fresh); !sameStrings(got, tc.wantFresh[i]) {
					t.Fatalf("batch %d: fresh %v, want %v", i, got, tc.wantFresh[i])
				}
			}
			page, err := s.SearchEvents(context.Background(), store.Query{Limit: store.MaxLimit})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Events) != len(all) {
				t.Fatalf("stored %d events %v, want %d", len(page.Events), ids(page.Events), len(all))
			}
			for _, ev := range page.Events {
				if want, ok := tc.wantLabel[ev.ID]; ok && ev.String("label") != want {
					t.Errorf("%s: label %q stored, want the first copy's %q", ev.ID, ev.String("label"), want)
				}
			}
		})
	}
}

func cut(spec string) (id, label string, ok bool) {
	for i := 0; i < len(spec); i++ {
		if spec[i] == ':' {
			return spec[:i], spec[i+1:], true
		}
	}
	return spec, "", false
}

func sameStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func testPutInvalid(t *testing.T, open Opener) {
	tests := []struct {
		name string
		bad  event.Event
	}{
		{"missing id", Event("", T0, event.DatasetOsquery, nil)},
		{"missing timestamp", event.Event{ID: "bad", Dataset: event.DatasetOsquery}},
		{"bad dataset", Event("bad", T0, "Not A Dataset!", nil)},
		{"bad ip", Event("bad", T0, event.DatasetFlow, map[string]any{"source.ip": "not-an-ip"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			good := tagged("good", "")
			if _, err := s.PutEvents(context.Background(), []event.Event{good, tc.bad}); err == nil {
				t.Fatal("PutEvents accepted an invalid event")
			}
			got, err := s.GetEvents(context.Background(), []string{"good"})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 0 {
				t.Fatal("the valid event of a failed batch was stored")
			}
		})
	}
}

func testGetEvents(t *testing.T, open Opener) {
	s := open(t)
	corpus := Corpus()
	put(t, s, corpus)
	byID := map[string]event.Event{}
	for _, ev := range corpus {
		byID[ev.ID] = ev
	}
	tests := []struct {
		name string
		ids  []string
		want []string
	}{
		{"none", nil, nil},
		{"one", []string{"ev-007"}, []string{"ev-007"}},
		{"given order", []string{"ev-100", "ev-nano", "ev-001", "ev-old"}, []string{"ev-100", "ev-nano", "ev-001", "ev-old"}},
		{"unknown left out", []string{"nope", "ev-042", "ev-999", "ev-041"}, []string{"ev-042", "ev-041"}},
		{"only unknown", []string{"nope", "ev-1000"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.GetEvents(context.Background(), tc.ids)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]event.Event, len(tc.want))
			for i, id := range tc.want {
				want[i] = byID[id]
			}
			checkEvents(t, "GetEvents", got, want)
		})
	}
}

func testConcurrentPut(t *testing.T, open Opener) {
	const writers, n, batch = 6, 200, 25
	s := open(t)
	all := make([]event.Event, n)
	for i := range all {
		all[i] = Event(fmt.Sprintf("c-%03d", i), T0.Add(time.Duration(i)*time.Millisecond), event.DatasetFlow,
			map[string]any{"lachan.unit": "ward-1"})
	}
	var mu sync.Mutex
	stored := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		order := rand.New(rand.NewSource(int64(w))).Perm(n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i += batch {
				evs := make([]event.Event, 0, batch)
				for _, k := range order[i : i+batch] {
					evs = append(evs, all[k])
				}
				fresh, err := s.PutEvents(context.Background(), evs)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, ev := range fresh {
					stored[ev.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, ev := range all {
		if stored[ev.ID] != 1 {
			t.Errorf("%s returned as fresh %d times, want once", ev.ID, stored[ev.ID])
		}
	}
	page, err := s.SearchEvents(context.Background(), store.Query{Limit: store.MaxLimit, Asc: true})
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "stored", page.Events, all)
}

func testClosed(t *testing.T, open Opener) {
	s := open(t)
	put(t, s, []event.Event{tagged("a", "")})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"PutEvents": func() error { _, err := s.PutEvents(ctx, []event.Event{tagged("b", "")}); return err },
		"GetEvents": func() error { _, err := s.GetEvents(ctx, []string{"a"}); return err },
		"SearchEvents": func() error {
			_, err := s.SearchEvents(ctx, store.Query{})
			return err
		},
		"GetEntity":    func() error { _, _, err := s.GetEntity(ctx, store.KindAgent, "a"); return err },
		"PutEntity":    func() error { _, err := s.PutEntity(ctx, store.KindAgent, "a", nil, 0); return err },
		"DeleteEntity": func() error { return s.DeleteEntity(ctx, store.KindAgent, "a") },
		"ListEntities": func() error { _, err := s.ListEntities(ctx, store.KindAgent); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}
