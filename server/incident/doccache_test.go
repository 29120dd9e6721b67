package incident

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// docCacheHits counts the incidents the cache answered with in this test
// binary; docCacheBad holds the first that differed from a fresh decoding.
var (
	docCacheHits atomic.Int64
	docCacheMu   sync.Mutex
	docCacheBad  string
)

// TestMain sends every incident of every test of the package through the
// document cache and checks each answer against the decoding it stands
// for, so the whole suite tests that the cache changes nothing.
func TestMain(m *testing.M) {
	docCacheMin = 0
	docCacheCheck = func(mg *Manager, cached Incident, id string, doc []byte, version uint64) {
		docCacheHits.Add(1)
		fresh, err := mg.decodeDoc(id, doc, version, nil)
		if err == nil && reflect.DeepEqual(cached, fresh) {
			return
		}
		docCacheMu.Lock()
		if docCacheBad == "" {
			docCacheBad = fmt.Sprintf("incident %s version %d: cached %+v\nfresh %+v (%v)", id, version, cached, fresh, err)
		}
		docCacheMu.Unlock()
	}
	code := m.Run()
	if docCacheBad != "" {
		fmt.Fprintln(os.Stderr, "FAIL: the incident cache answered other than a decoding:", docCacheBad)
		code = 1
	}
	os.Exit(code)
}

// failIfCacheWrong fails t at once when an answer of the cache so far
// differed from its decoding.
func failIfCacheWrong(t *testing.T) {
	t.Helper()
	docCacheMu.Lock()
	defer docCacheMu.Unlock()
	if docCacheBad != "" {
		t.Fatal(docCacheBad)
	}
}

// TestDocCacheAnswers raises alerts into one incident, works it as an
// analyst would, and reads it back: the cache answers the reads after
// each write, with what decoding the stored document gives.
func TestDocCacheAnswers(t *testing.T) {
	ctx := context.Background()
	m := NewManager(openStore(t), DefaultConfig(), func() time.Time { return t0.Add(time.Hour) })
	hits := docCacheHits.Load()
	var id string
	for i := range 30 {
		al := alert("h1", fmt.Sprintf("r%d", i%3), "medium", time.Duration(i)*time.Second)
		al.ID = event.DeriveID("doccache", fmt.Sprint(i))
		if _, err := m.Raise(ctx, []event.Event{al}); err != nil {
			t.Fatal(err)
		}
		if id == "" {
			id = m.newIncident(al).ID
		}
	}
	if _, err := m.AddNote(ctx, id, "analyst", "looked at it"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AssignUser(ctx, id, "analyst", "lead"); err != nil {
		t.Fatal(err)
	}
	inc, err := m.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if inc.AlertCount != 30 || len(inc.AlertIDs) != 30 || len(inc.Notes) != 1 || inc.Assignee != "analyst" {
		t.Fatalf("incident read back: %d alerts, %d IDs, %d notes, assignee %q", inc.AlertCount, len(inc.AlertIDs), len(inc.Notes), inc.Assignee)
	}
	if got := docCacheHits.Load() - hits; got < 30 {
		t.Fatalf("the cache answered %d reads of 32, want at least 30", got)
	}
	failIfCacheWrong(t)

	// What a caller does to its copy stays with it.
	inc.AlertIDs[0] = "changed"
	inc.Rules[0].Alerts = -1
	inc.History[0].Action = "changed"
	again, err := m.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if again.AlertIDs[0] == "changed" || again.Rules[0].Alerts == -1 || again.History[0].Action == "changed" {
		t.Fatal("a change to an incident read changed the cached one")
	}

	// Another writer's version is decoded, not taken from the cache.
	doc, ver, err := m.st.GetEntity(ctx, store.KindIncident, id)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(string(doc), `"title":"`, `"title":"Other: `, 1)
	if _, err := m.st.PutEntity(ctx, store.KindIncident, id, []byte(other), ver); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Get(ctx, id); err != nil || !strings.HasPrefix(got.Title, "Other: ") {
		t.Fatalf("after another writer: title %q, %v", got.Title, err)
	}
}

// TestCloneCoversIncident fails when Incident gains a slice or a map that
// clone does not copy: it fills every field of an incident, clones it,
// changes every element of the copy and checks the original.
func TestCloneCoversIncident(t *testing.T) {
	var inc Incident
	fill(reflect.ValueOf(&inc).Elem(), "a")
	want := fmt.Sprintf("%#v", inc)
	c := inc.clone()
	fill(reflect.ValueOf(&c).Elem(), "b")
	if got := fmt.Sprintf("%#v", inc); got != want {
		t.Fatalf("changing a clone changed the original:\nbefore %s\nafter  %s", want, got)
	}
}

// fill sets every settable field, element and map value under v to a
// value made of s; slices and maps get one element.
func fill(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(len(s)) + 7)
	case reflect.Uint64:
		v.SetUint(uint64(len(s)) + 7)
	case reflect.Bool:
		v.SetBool(s == "a")
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(t0.Add(time.Duration(len(s)) * time.Hour)))
			return
		}
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				fill(f, s)
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		for i := range v.Len() {
			fill(v.Index(i), s)
		}
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
			v.SetMapIndex(reflect.ValueOf("k"), reflect.ValueOf(map[string]any{"n": []any{s}}))
			return
		}
		for _, k := range v.MapKeys() {
			v.SetMapIndex(k, reflect.ValueOf(map[string]any{"n": []any{s}}))
		}
	case reflect.Interface:
		v.Set(reflect.ValueOf(s))
	}
}
