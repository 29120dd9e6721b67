package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"lachan/server/store"
)

func testEntities(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	const kind = store.KindIncident
	// The steps run in order on one store; each names the state it expects.
	steps := []struct {
		name    string
		op      string // get, put, delete
		id      string
		doc     string
		version uint64
		wantVer uint64
		wantErr error
	}{
		{"get absent", "get", "inc-1", "", 0, 0, store.ErrNotFound},
		{"update absent", "put", "inc-1", "x", 3, 0, store.ErrConflict},
		{"create", "put", "inc-1", "one", 0, 1, nil},
		{"read created", "get", "inc-1", "one", 0, 1, nil},
		{"create again", "put", "inc-1", "again", 0, 0, store.ErrConflict},
		{"update", "put", "inc-1", "two", 1, 2, nil},
		{"stale update", "put", "inc-1", "stale", 1, 0, store.ErrConflict},
		{"future version", "put", "inc-1", "future", 7, 0, store.ErrConflict},
		{"read updated", "get", "inc-1", "two", 0, 2, nil},
		{"other id untouched", "get", "inc-2", "", 0, 0, store.ErrNotFound},
		{"empty document", "put", "inc-2", "", 0, 1, nil},
		{"read empty document", "get", "inc-2", "", 0, 1, nil},
		{"delete", "delete", "inc-1", "", 0, 0, nil},
		{"read deleted", "get", "inc-1", "", 0, 0, store.ErrNotFound},
		{"delete absent", "delete", "inc-1", "", 0, 0, nil},
		{"update deleted", "put", "inc-1", "x", 2, 0, store.ErrConflict},
		{"create after delete", "put", "inc-1", "three", 0, 1, nil},
		{"read recreated", "get", "inc-1", "three", 0, 1, nil},
	}
	for _, st := range steps {
		var err error
		var ver uint64
		var doc []byte
		switch st.op {
		case "get":
			doc, ver, err = s.GetEntity(ctx, kind, st.id)
		case "put":
			ver, err = s.PutEntity(ctx, kind, st.id, []byte(st.doc), st.version)
		case "delete":
			err = s.DeleteEntity(ctx, kind, st.id)
		}
		switch {
		case st.wantErr != nil && !errors.Is(err, st.wantErr):
			t.Fatalf("%s: err %v, want %v", st.name, err, st.wantErr)
		case st.wantErr == nil && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case st.wantErr == nil && st.op != "delete" && ver != st.wantVer:
			t.Fatalf("%s: version %d, want %d", st.name, ver, st.wantVer)
		case st.op == "get" && st.wantErr == nil && string(doc) != st.doc:
			t.Fatalf("%s: doc %q, want %q", st.name, doc, st.doc)
		}
	}
}

func testListEntities(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	// Kinds that are prefixes of each other must not bleed into one another.
	writes := []struct{ kind, id string }{
		{"agent", "b"}, {"agent", "a"}, {"agent", "c-2"}, {"agent", "c"},
		{"agents", "a"}, {"agen", "z"}, {store.KindUnit, "ward-1"},
	}
	for _, w := range writes {
		if _, err := s.PutEntity(ctx, w.kind, w.id, []byte(w.kind+"/"+w.id), 0); err != nil {
			t.Fatalf("put %s/%s: %v", w.kind, w.id, err)
		}
	}
	if _, err := s.PutEntity(ctx, "agent", "b", []byte("agent/b v2"), 1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind string
		want []string // id:version:doc
	}{
		{"agent", []string{"a:1:agent/a", "b:2:agent/b v2", "c:1:agent/c", "c-2:1:agent/c-2"}},
		{"agents", []string{"a:1:agents/a"}},
		{"agen", []string{"z:1:agen/z"}},
		{"nothing", nil},
	}
	for _, tc := range tests {
		got, err := s.ListEntities(ctx, tc.kind)
		if err != nil {
			t.Fatalf("list %s: %v", tc.kind, err)
		}
		var flat []string
		for _, e := range got {
			flat = append(flat, fmt.Sprintf("%s:%d:%s", e.ID, e.Version, e.Doc))
		}
		if !sameStrings(flat, tc.want) {
			t.Errorf("list %s: %q, want %q", tc.kind, flat, tc.want)
		}
	}
	// Pages of a kind, through the engine's EntityPager or the fallback.
	pages := []struct {
		after string
		limit int
		want  []string
	}{
		{"", 2, []string{"a", "b"}},
		{"b", 2, []string{"c", "c-2"}},
		{"a0", 10, []string{"b", "c", "c-2"}},
		{"c", 1, []string{"c-2"}},
		{"c-2", 5, nil},
		{"", 0, nil},
	}
	for _, pg := range pages {
		got, err := store.ListEntitiesAfter(ctx, s, "agent", pg.after, pg.limit)
		if err != nil {
			t.Fatalf("page after %q: %v", pg.after, err)
		}
		// The same page when the engine's pager is hidden (the fallback).
		whole, err := store.ListEntitiesAfter(ctx, struct{ store.Store }{s}, "agent", pg.after, pg.limit)
		if err != nil || len(whole) != len(got) {
			t.Errorf("page after %q without the pager: %d entities, %v; want %d", pg.after, len(whole), err, len(got))
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if !sameStrings(ids, pg.want) {
			t.Errorf("page after %q, limit %d: %q, want %q", pg.after, pg.limit, ids, pg.want)
		}
	}
	// A caller may keep and change a listed document.
	got, _ := s.ListEntities(ctx, "agent")
	got[0].Doc[0] = 'X'
	doc, _, err := s.GetEntity(ctx, "agent", "a")
	if err != nil || !bytes.Equal(doc, []byte("agent/a")) {
		t.Errorf("after changing a listed doc: stored %q, %v", doc, err)
	}
}
