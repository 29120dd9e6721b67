package correlate

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"lachan/internal/event"
	"lachan/server/detect"
	"lachan/server/store"
)

const testSources = `
sources:
  - logsource: {product: windows, service: security}
    datasets: [windows.security]
  - logsource: {product: test}
    datasets: [test.events]
`

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// rig is a detection engine and a correlator loaded from rule files, fed
// the way the pipeline feeds them.
type rig struct {
	eng *detect.Engine
	set *Set
	c   *Correlator
}

func newRig(t *testing.T, files map[string]string, st StateStore, cfg Config) *rig {
	t.Helper()
	fsys := fstest.MapFS{"logsources.yml": {Data: []byte(testSources)}}
	for name, src := range files {
		fsys["rules/"+name] = &fstest.MapFile{Data: []byte(src)}
	}
	sources, err := detect.LoadLogSources(fsys, "logsources.yml")
	if err != nil {
		t.Fatal(err)
	}
	dirs := []detect.RuleDir{{FS: fsys, Root: "rules"}}
	eng, errs := detect.LoadDirs(dirs, sources, detect.DefaultConfig())
	for _, e := range errs {
		t.Fatalf("detect load: %v", e)
	}
	set, errs := LoadDirs(dirs, eng.Rules())
	for _, e := range errs {
		t.Fatalf("correlate load: %v", e)
	}
	c, err := New(set, st, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return t0.Add(1000 * time.Hour) }
	return &rig{eng: eng, set: set, c: c}
}

// feed runs detection and correlation over events and returns every
// alert kept.
func (r *rig) feed(t *testing.T, evs ...event.Event) []event.Event {
	t.Helper()
	var out []event.Event
	for _, ev := range evs {
		var alerts []event.Event
		for _, m := range r.eng.Match(ev) {
			alerts = append(alerts, m.Alert(ev))
		}
		kept := r.c.Observe(ev, alerts)
		for _, a := range kept {
			if err := a.Validate(); err != nil {
				t.Fatalf("alert %s does not validate: %v", a.String("rule.id"), err)
			}
		}
		out = append(out, kept...)
	}
	return out
}

// fired returns the alerts of rule id.
func fired(alerts []event.Event, id string) []event.Event {
	var out []event.Event
	for _, a := range alerts {
		if a.String("rule.id") == id {
			out = append(out, a)
		}
	}
	return out
}

var evSeq int

// ev makes an event of dataset ds at t0+at with the given fields.
func ev(ds string, at time.Duration, kv ...any) event.Event {
	evSeq++
	e := event.New(ds, t0.Add(at))
	e.ID = event.DeriveID("test", ds, at.String(), strings.Repeat("x", evSeq%7), time.Duration(evSeq).String())
	for i := 0; i+1 < len(kv); i += 2 {
		e.Set(kv[i].(string), kv[i+1])
	}
	return e
}

// memStore is an in-memory StateStore with versions, as the store
// interface defines them.
type memStore struct {
	mu   sync.Mutex
	docs map[string]store.Entity
	puts int
}

func newMemStore() *memStore { return &memStore{docs: map[string]store.Entity{}} }

func (m *memStore) GetEntity(_ context.Context, kind, id string) ([]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.docs[kind+"\x00"+id]
	if !ok {
		return nil, 0, store.ErrNotFound
	}
	return e.Doc, e.Version, nil
}

func (m *memStore) PutEntity(_ context.Context, kind, id string, doc []byte, version uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := kind + "\x00" + id
	if m.docs[k].Version != version {
		return 0, store.ErrConflict
	}
	m.puts++
	e := store.Entity{ID: id, Version: version + 1, Doc: append([]byte(nil), doc...)}
	m.docs[k] = e
	return e.Version, nil
}

func (m *memStore) ListEntities(_ context.Context, kind string) ([]store.Entity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Entity
	for k, e := range m.docs {
		if strings.HasPrefix(k, kind+"\x00") {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
