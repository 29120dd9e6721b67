package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"lachan/internal/wire"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
)

// TestEnrollCounterExactUnderConcurrency: many enrollments through one
// secret at once, more than its limit, enroll exactly the limit; the
// counter follows removals, revocations (which still count) and
// reinstalls onto another secret.
func TestEnrollCounterExactUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	st := embeddedtest.Open(t)
	f := New(st, nil)
	const via, limit, tries = "secret:s1", 25, 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok []Agent
	refused := 0
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, _, err := f.EnrollAgent(ctx, Enrollment{Unit: "ward-1", Via: via, Limit: limit,
				Host: wire.Host{Name: fmt.Sprintf("pc-%d", i), HardwareID: fmt.Sprintf("hw-%d", i)}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrViaExhausted):
				refused++
			case err != nil:
				t.Error(err)
			default:
				ok = append(ok, a)
			}
		}()
	}
	wg.Wait()
	if len(ok) != limit || refused != tries-limit {
		t.Fatalf("%d enrolled and %d refused, want %d and %d", len(ok), refused, limit, tries-limit)
	}
	count := func(via string) int {
		t.Helper()
		n, err := f.CountEnrolledVia(ctx, via)
		if err != nil {
			t.Fatal(err)
		}
		if slow, _ := f.countVia(ctx, via); slow != n {
			t.Fatalf("%s: counter %d, records %d", via, n, slow)
		}
		return n
	}
	if n := count(via); n != limit {
		t.Fatalf("counter %d, want %d", n, limit)
	}
	if _, err := f.Revoke(ctx, ok[0].ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if n := count(via); n != limit {
		t.Fatalf("after a revoke: %d, want %d (a revoked record still counts)", n, limit)
	}
	if _, err := f.Remove(ctx, ok[1].ID); err != nil {
		t.Fatal(err)
	}
	if n := count(via); n != limit-1 {
		t.Fatalf("after a remove: %d, want %d", n, limit-1)
	}
	// A reinstall through another secret moves the PC's count over.
	re, ch, err := f.EnrollAgent(ctx, Enrollment{Unit: "ward-1", Via: "secret:s2", Limit: limit, Host: ok[2].Host})
	if err != nil || re.ID != ok[2].ID || ch[0].Kind != ChangeReinstalled {
		t.Fatalf("reinstall: %+v %v %v", re, ch, err)
	}
	if a, b := count(via), count("secret:s2"); a != limit-2 || b != 1 {
		t.Fatalf("after a reinstall onto s2: s1 %d, s2 %d; want %d, 1", a, b, limit-2)
	}
	// At the limit, a new PC is refused but a reinstall through the same
	// secret is taken: it adds no agent.
	for range 2 {
		if _, _, err := f.EnrollAgent(ctx, Enrollment{Unit: "ward-1", Via: via, Limit: limit, Host: wire.Host{Name: "x", HardwareID: fmt.Sprintf("new-%d", count(via))}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.EnrollAgent(ctx, Enrollment{Unit: "ward-1", Via: via, Limit: limit, Host: wire.Host{Name: "over"}}); !errors.Is(err, ErrViaExhausted) {
		t.Fatalf("over the limit: %v", err)
	}
	if re, _, err := f.EnrollAgent(ctx, Enrollment{Unit: "ward-1", Via: via, Limit: limit, Host: ok[3].Host}); err != nil || re.ID != ok[3].ID {
		t.Fatalf("reinstall at the limit: %v", err)
	}
	if n := count(via); n != limit {
		t.Fatalf("at the end: %d, want %d", n, limit)
	}
}

// TestIndexesBuiltForOlderStores: agents recorded before the indexes
// existed are found by hardware ID and address once the fleet starts.
func TestIndexesBuiltForOlderStores(t *testing.T) {
	ctx := context.Background()
	st := embeddedtest.Open(t)
	old := Agent{ID: "a1", Unit: "ward-1", Enrollment: "secret:s1", Host: wire.Host{Name: "pc-old", HardwareID: "hw-1", IPs: []string{"10.0.0.5"}}}
	other := Agent{ID: "a2", Unit: "ward-2", Enrollment: "secret:s9", Host: wire.Host{Name: "pc-other", IPs: []string{"10.0.0.9"}}}
	for _, a := range []Agent{old, other} {
		b, _ := json.Marshal(a)
		if _, err := st.PutEntity(ctx, store.KindAgent, a.ID, b, 0); err != nil {
			t.Fatal(err)
		}
	}
	f := New(st, nil)
	a, ch, err := f.EnrollAgent(ctx, Enrollment{Unit: "ward-1", Via: "secret:s1", Limit: 1, Host: wire.Host{Name: "pc-new", HardwareID: "hw-1", IPs: []string{"10.0.0.9"}}})
	if err != nil || a.ID != "a1" {
		t.Fatalf("reinstall over a record from before the index: %+v %v", a, err)
	}
	if len(ch) != 1 || ch[0].Kind != ChangeReinstalled {
		t.Fatalf("reinstall changes: %+v", ch)
	}
	b, ch, err := f.EnrollAgent(ctx, Enrollment{Unit: "ward-1", Via: "secret:s1", Limit: 2, Host: wire.Host{Name: "pc-3", IPs: []string{"10.0.0.9"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 2 || ch[1].Kind != ChangeConflict || ch[1].Other != "a2" {
		t.Fatalf("an address of another unit's agent from before the index: %+v", ch)
	}
	_, ch2, err := f.CheckInFrom(ctx, b.ID, wire.CheckInRequest{Host: wire.Host{Name: "pc-3", IPs: []string{"10.0.0.9", "10.0.0.5"}}}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ch2 {
		if c.Kind == ChangeConflict {
			t.Fatalf("a conflict within one unit: %+v", c)
		}
	}
	if n, _ := f.CountEnrolledVia(ctx, "secret:s1"); n != 2 {
		t.Fatalf("count %d, want 2", n)
	}
}
