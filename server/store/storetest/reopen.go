package storetest

import (
	"context"
	"testing"

	"lachan/server/store"
)

// OpenerAt opens the store kept at dir, creating it when dir is new. Like
// Opener it may register a cleanup that closes the store.
type OpenerAt func(t *testing.T, dir string) store.Store

// RunReopen checks durability: what one store wrote and closed, a store
// opened later on the same place reads back, and de-duplication and entity
// versions carry over.
func RunReopen(t *testing.T, openAt OpenerAt) {
	ctx := context.Background()
	dir := t.TempDir()
	corpus := Corpus()

	s := openAt(t, dir)
	put(t, s, corpus[:100])
	put(t, s, corpus[100:])
	if _, err := s.PutEntity(ctx, store.KindUnit, "ward-1", []byte(`{"name":"Ward 1"}`), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutEntity(ctx, store.KindUnit, "gone", nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEntity(ctx, store.KindUnit, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, dir)
	got, err := s.GetEvents(ctx, ids(corpus))
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "after reopen", got, corpus)
	for _, q := range []store.Query{
		{Limit: store.MaxLimit},
		{Limit: store.MaxLimit, Units: []string{"ward-2"}, Asc: true},
		{Limit: store.MaxLimit, Terms: map[string][]string{"rule.id": {"r-b"}}, From: minute(5), To: minute(60)},
	} {
		page, err := s.SearchEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "search after reopen", page.Events, Expect(corpus, q))
	}
	fresh := put(t, s, corpus)
	if len(fresh) != 0 {
		t.Fatalf("after reopen %d stored events came back as fresh: %v", len(fresh), ids(fresh)[:min(5, len(fresh))])
	}
	if _, err := s.PutEntity(ctx, store.KindUnit, "ward-1", []byte(`{"name":"Ward One"}`), 1); err != nil {
		t.Fatalf("update after reopen: %v", err)
	}
	ents, err := s.ListEntities(ctx, store.KindUnit)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].ID != "ward-1" || ents[0].Version != 2 {
		t.Fatalf("units after reopen: %+v, want ward-1 at version 2 only", ents)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s = openAt(t, dir)
	doc, ver, err := s.GetEntity(ctx, store.KindUnit, "ward-1")
	if err != nil || ver != 2 || string(doc) != `{"name":"Ward One"}` {
		t.Fatalf("third open: %q version %d, %v; want the update at version 2", doc, ver, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("third Close: %v", err)
	}
}
