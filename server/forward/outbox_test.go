package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lachan/server/store"
	"lachan/server/store/embedded"
)

func openStore(t *testing.T, dir string) store.Store { return openStoreTB(t, dir) }

func openStoreTB(t testing.TB, dir string) store.Store {
	t.Helper()
	c := embedded.DefaultConfig()
	c.Dir, c.Sync = filepath.Join(dir, "store"), false
	st, err := embedded.Open(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fakeAdapter fails while down is set (or for the bundles named in
// refuse) and records every bundle ID it accepted, in order.
type fakeAdapter struct {
	mu     sync.Mutex
	down   bool
	refuse map[string]bool
	got    []string
	calls  int
}

func (f *fakeAdapter) Name() string { return "fake" }
func (f *fakeAdapter) Send(_ context.Context, b Bundle) (Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
		return Receipt{}, &SendError{Status: 503, Err: errors.New("upstream down")}
	}
	if f.refuse[b.ID] {
		return Receipt{}, &SendError{Status: 422, Permanent: true, Err: errors.New("malformed")}
	}
	f.got = append(f.got, b.ID)
	return Receipt{Target: "fake", HTTPStatus: 202, Status: "complete", Successes: len(b.Objects)}, nil
}

func entry(stream string, seq uint64) Entry {
	b := Bundle{Type: "bundle", ID: fmt.Sprintf("%s#%d", stream, seq), Objects: []Object{{"n": int64(seq)}}}
	raw, _ := Encode(b)
	return Entry{Stream: stream, Seq: seq, Object: stream, Bundle: raw}
}

var testDelivery = DeliveryConfig{MinBackoff: time.Second, MaxBackoff: time.Minute, Timeout: time.Second, PollInterval: time.Minute}

func TestOutboxOrderRetryAndRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	clk := &clock{t: t0}
	ad := &fakeAdapter{down: true}
	o := NewOutbox(st, ad, testDelivery, nil, clk.now)
	o.SetJitter(func() float64 { return 0.999 })
	for _, e := range []Entry{entry("incident:a", 2), entry("incident:a", 5), entry("incident:b", 1), entry("incident:a", 9)} {
		if ok, err := o.Enqueue(ctx, e); err != nil || !ok {
			t.Fatalf("enqueue: %v %v", ok, err)
		}
	}
	if ok, err := o.Enqueue(ctx, entry("incident:a", 5)); err != nil || ok {
		t.Fatalf("second enqueue of one revision: %v %v, want false, nil", ok, err)
	}
	// Down for "days": attempts back off, capped at MaxBackoff.
	var waits []time.Duration
	for i := 0; i < 40; i++ {
		if n, err := o.DeliverDue(ctx); err != nil || n != 0 {
			t.Fatalf("pass %d: %d delivered, %v", i, n, err)
		}
		es, _ := o.Entries(ctx)
		w := es[0].NextAt.Sub(clk.now())
		waits = append(waits, w)
		clk.advance(w)
	}
	if waits[0] > time.Second || waits[1] <= waits[0] || waits[39] > time.Minute || waits[39] < 59*time.Second {
		t.Errorf("back-off not doubling up to the cap: %v … %v", waits[:4], waits[39])
	}
	if ad.calls != 40 {
		t.Errorf("%d calls in 40 passes: a dead upstream must cost one attempt per pass", ad.calls)
	}
	// Restart: a new outbox over the store of the old one.
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	ad.down = false
	o = NewOutbox(st, ad, testDelivery, nil, clk.now)
	clk.advance(time.Hour)
	for i := 0; i < 5; i++ {
		if _, err := o.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"incident:a#2", "incident:a#5", "incident:a#9", "incident:b#1"}
	if fmt.Sprint(ad.got) != fmt.Sprint(want) {
		t.Fatalf("delivered %v, want each once in order %v", ad.got, want)
	}
	atts, err := o.Attempts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	retries, delivered := 0, 0
	for _, a := range atts {
		switch a.Outcome {
		case "retry":
			retries++
			if a.Status != 503 || a.Target != "fake" || a.Error == "" {
				t.Errorf("retry record incomplete: %+v", a)
			}
		case "delivered":
			delivered++
		}
	}
	if retries != 40 || delivered != 4 {
		t.Errorf("audit has %d retries and %d deliveries, want 40 and 4", retries, delivered)
	}
}

func TestOutboxHoldsStreamBehindFailureButRefusedMovesOn(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := &clock{t: t0}
	ad := &fakeAdapter{refuse: map[string]bool{"incident:a#1": true}}
	o := NewOutbox(st, ad, testDelivery, nil, clk.now)
	for _, e := range []Entry{entry("incident:a", 1), entry("incident:a", 2), entry("incident:b", 1)} {
		if _, err := o.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := o.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ad.got) != "[incident:a#2 incident:b#1]" {
		t.Fatalf("delivered %v", ad.got)
	}
	es, _ := o.Entries(ctx)
	if es[0].State != StateRefused || es[1].State != StateDelivered {
		t.Fatalf("states %s %s", es[0].State, es[1].State)
	}
	// Pruning keeps the newest entry of each stream.
	clk.advance(48 * time.Hour)
	n, err := o.Prune(ctx, clk.now())
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
}

func TestBackoffJitterRange(t *testing.T) {
	o := NewOutbox(nil, nil, testDelivery, nil, nil)
	for _, r := range []float64{0, 0.5, 0.999} {
		o.SetJitter(func() float64 { return r })
		for att, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 30: time.Minute} {
			d := o.backoff(att)
			if d < full/2 || d > full {
				t.Errorf("attempt %d jitter %.3f: %s outside [%s, %s]", att, r, d, full/2, full)
			}
		}
	}
}
