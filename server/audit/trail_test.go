package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/internal/logging"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 123456789, time.UTC)

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock returns a clock that moves a second a call.
func clock() func() time.Time {
	var mu sync.Mutex
	now := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

func openTrail(t testing.TB, st store.Store, key ed25519.PrivateKey) *Trail {
	t.Helper()
	tr, err := Open(context.Background(), st, key, clock())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func entry(i int) Entry {
	return Entry{Actor: fmt.Sprintf("op-%d", i%3), Role: "admin", Action: "unit.put", Object: fmt.Sprintf("ward-%d", i),
		Outcome: OutcomeSuccess, Source: "192.0.2.7", Detail: map[string]any{"n": i, "note": "<b>phường & xã</b>"}}
}

func export(t testing.TB, tr *Trail) []byte {
	t.Helper()
	var b bytes.Buffer
	last, _, err := tr.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Export(context.Background(), &b, 0, last); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAppendVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	key := newKey(t)
	tr := openTrail(t, embeddedtest.Open(t), key)
	if err := tr.Record(ctx, Entry{Actor: "bad\xffutf8", Action: "x"}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := tr.Record(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			if _, err := tr.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	cp, err := tr.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Seq != 13 || cp.Sig == "" {
		t.Fatalf("checkpoint: %+v", cp)
	}
	seq, hash, err := tr.Head(ctx)
	if err != nil || seq != 13 || hash != cp.Hash {
		t.Fatalf("head %d %s %v, want 13 %s", seq, hash, err, cp.Hash)
	}
	sum, err := Verify(bytes.NewReader(export(t, tr)), tr.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Records: 13, Checkpoints: 2, Last: 13, LastHash: cp.Hash, LastCheckpoint: 13, CheckpointTime: cp.Time}
	if sum != want {
		t.Fatalf("summary %+v, want %+v", sum, want)
	}
	// A trail that ends past its checkpoint says how much is unsigned.
	_ = tr.Record(ctx, entry(99))
	if sum, err = Verify(bytes.NewReader(export(t, tr)), tr.PublicKey()); err != nil || sum.Unsigned != 1 {
		t.Fatalf("unsigned tail: %+v %v", sum, err)
	}
	// An empty trail is intact.
	if sum, err := Verify(strings.NewReader(""), tr.PublicKey()); err != nil || sum.Records != 0 {
		t.Fatalf("empty: %+v %v", sum, err)
	}
}

// TestConcurrentAppends appends from many goroutines through two trails
// (two replicas) over one store: one chain, no gap, no fork.
func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	st := embeddedtest.Open(t)
	key := newKey(t)
	trails := []*Trail{openTrail(t, st, key), openTrail(t, st, key)}
	const workers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := trails[w%2]
			for i := range each {
				if i%10 == 9 {
					if _, err := tr.Checkpoint(ctx); err != nil {
						errs <- err
					}
					continue
				}
				if err := tr.Record(ctx, entry(w*each+i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sum, err := Verify(bytes.NewReader(export(t, trails[0])), key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != workers*each || sum.Checkpoints != workers*2 {
		t.Fatalf("summary %+v, want %d records and %d checkpoints", sum, workers*each, workers*2)
	}
	ents, _ := st.ListEntities(ctx, KindRecord)
	if len(ents) != workers*each {
		t.Fatalf("%d records stored, want %d (a fork or a record past the head)", len(ents), workers*each)
	}
}

// TestCrashBetweenRecordAndHead leaves a record past the head, as a writer
// that stopped between its two writes does; opening takes it in, and so
// does the next append of a trail that was already open.
func TestCrashBetweenRecordAndHead(t *testing.T) {
	ctx := context.Background()
	st := embeddedtest.Open(t)
	key := newKey(t)
	tr := openTrail(t, st, key)
	other := openTrail(t, st, key)
	for i := range 3 {
		if err := tr.Record(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	crash := func(seq uint64, prev string) Record {
		rec, err := newRecord(seq, prev, t0, entry(int(seq)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.PutEntity(ctx, KindRecord, recordID(seq), mustJSON(t, rec), 0); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	_, hash, _ := tr.Head(ctx)
	orphan := crash(4, hash)
	tr = openTrail(t, st, key)
	if seq, hash, _ := tr.Head(ctx); seq != 4 || hash != orphan.Hash {
		t.Fatalf("head after open: %d %s, want 4 %s", seq, hash, orphan.Hash)
	}
	orphan = crash(5, orphan.Hash)
	if err := other.Record(ctx, entry(6)); err != nil {
		t.Fatal(err)
	}
	if seq, _, _ := other.Head(ctx); seq != 6 {
		t.Fatalf("head after an append over a left record: %d, want 6", seq)
	}
	sum, err := Verify(bytes.NewReader(export(t, tr)), tr.PublicKey())
	if err != nil || sum.Records != 6 {
		t.Fatalf("%+v %v", sum, err)
	}
	// A record past the head that does not follow it is damage, not a
	// crash: opening refuses to take it in.
	crash(7, Genesis)
	if _, err := Open(ctx, st, key, nil); err == nil || !strings.Contains(err.Error(), "does not follow") {
		t.Fatalf("open over a foreign record: %v", err)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	tr := openTrail(t, embeddedtest.Open(t), newKey(t))
	for i := range 12 {
		if err := tr.Record(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	recs, next, err := tr.List(ctx, Filter{Actor: "op-1", Limit: 2})
	if err != nil || len(recs) != 2 || recs[0].Seq != 2 || recs[1].Seq != 5 || next != 5 {
		t.Fatalf("page 1: %v next %d %v", seqs(recs), next, err)
	}
	recs, next, _ = tr.List(ctx, Filter{Actor: "op-1", Limit: 2, After: next})
	if len(recs) != 2 || recs[0].Seq != 8 || recs[1].Seq != 11 || next != 0 {
		t.Fatalf("page 2: %v next %d", seqs(recs), next)
	}
	recs, _, _ = tr.List(ctx, Filter{Since: t0.Add(3 * time.Second), Until: t0.Add(5 * time.Second)})
	if fmt.Sprint(seqs(recs)) != "[3 4]" {
		t.Fatalf("time window: %v", seqs(recs))
	}
	recs, _, _ = tr.List(ctx, Filter{Action: "nothing"})
	if recs == nil || len(recs) != 0 {
		t.Fatalf("no match: %#v", recs)
	}
}

func seqs(recs []Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func TestRunCheckpoints(t *testing.T) {
	tr := openTrail(t, embeddedtest.Open(t), newKey(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tr.RunCheckpoints(ctx, 20*time.Millisecond, logging.Discard()) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if seq, _, _ := tr.Head(context.Background()); seq >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint on the ticker")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sum, err := Verify(bytes.NewReader(export(t, tr)), tr.PublicKey())
	if err != nil || sum.Checkpoints < 2 || sum.Unsigned != 0 {
		t.Fatalf("ticks and the last checkpoint: %+v %v", sum, err)
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "audit.checkpoint_interval") {
		t.Fatalf("zero interval: %v", err)
	}
	if _, err := Open(context.Background(), embeddedtest.Open(t), nil, nil); err == nil {
		t.Fatal("open without a key")
	}
}

func TestAppendStopsWithContext(t *testing.T) {
	tr := openTrail(t, embeddedtest.Open(t), newKey(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Record(ctx, entry(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled append: %v", err)
	}
}
