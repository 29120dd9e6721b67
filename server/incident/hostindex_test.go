package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
	"lachan/server/store/storetest"
)

// TestHostListing: a listing by host reads that host's incidents only,
// once the index is built (at start, over incidents stored before it),
// and finds the same incidents as a scan of every incident, new and
// reported ones included.
func TestHostListing(t *testing.T) {
	ctx := context.Background()
	cs := &storetest.Counter{Store: openStore(t), Kind: store.KindIncident}
	m := NewManager(cs, DefaultConfig(), func() time.Time { return t0 })
	// Thirty incidents on three hosts, stored as an older version would
	// have: with no index.
	for i := range 30 {
		inc := Incident{ID: event.DeriveID("old", fmt.Sprint(i)), Status: StatusResolved, Resolution: ResolutionBenign,
			Unit: "ward-1", Host: Host{ID: fmt.Sprint("pc-", i%3)}, LastSeen: t0.Add(time.Duration(i) * time.Minute)}
		b, _ := json.Marshal(inc)
		if _, err := cs.Store.PutEntity(ctx, store.KindIncident, inc.ID, b, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Before the index is built the listing reads every incident.
	cs.Read = 0
	if got, err := m.Search(ctx, nil, Filter{Host: "pc-1"}); err != nil || len(got) != 10 || cs.Read != 30 {
		t.Fatalf("before the index: %d incidents (%v), %d read; want 10, 30", len(got), err, cs.Read)
	}
	if err := m.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Raise(ctx, []event.Event{alert("pc-1", "r1", "high", time.Hour), alert("pc-10", "r1", "high", 0)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.ReceiveRemote(ctx, Remote{Sender: "ward-9", SourceID: "x", Unit: "ward-1", Title: "t", Severity: "low",
		Host: Host{ID: "pc-1"}, Rule: Rule{ID: "r"}, Created: t0, Modified: t0, FirstSeen: t0, LastSeen: t0}); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"pc-0", "pc-1", "pc-10", "ward-9/pc-1", "nobody"} {
		cs.Read = 0
		got, err := m.Search(ctx, nil, Filter{Host: host})
		if err != nil {
			t.Fatal(err)
		}
		read := cs.Read
		all, err := m.scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, inc := range all {
			if inc.Host.ID == host {
				want = append(want, inc.ID)
			}
		}
		var ids []string
		for _, inc := range got {
			ids = append(ids, inc.ID)
		}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) || read != len(want) {
			t.Fatalf("host %s: listed %v reading %d incidents, want %v reading as many", host, ids, read, want)
		}
	}
	// A page by host, in any order, with its total.
	pg, err := m.ListPage(ctx, nil, Filter{Host: "pc-1"}, Order{Key: "created", Asc: true}, 0, 5)
	if err != nil || pg.Total != 11 || len(pg.Incidents) != 5 || !pg.More {
		t.Fatalf("page by host: %d of %d, more %v (%v)", len(pg.Incidents), pg.Total, pg.More, err)
	}
	if got, err := m.Search(ctx, []string{"ward-2"}, Filter{Host: "pc-1"}); err != nil || len(got) != 0 {
		t.Fatalf("ward-2 sees %d of pc-1's incidents (%v)", len(got), err)
	}
}
