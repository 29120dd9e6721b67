package embedded

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
)

var updateStored = flag.Bool("update", false, "rewrite testdata/stored.sum with the digest of what the store writes now")

// storedEvent returns event n of TestStoredBytes's batches: several
// datasets and days, IDs of every kind (timeKeyed, timed, neither),
// indexed fields holding strings, lists, long values and bytes the index
// escapes, some missing, and a few events the mapping refuses (dead
// letters).
func storedEvent(n int) event.Event {
	ds := []string{event.DatasetOsquery, "yara.finding", "network.flow", event.DatasetOsquery}[n%4]
	// Out of order within a batch, over three days.
	ts := benchT0.Add(time.Duration((n*7919)%2000)*time.Minute + time.Duration(n)*time.Millisecond)
	ev := event.Event{ID: fmt.Sprintf("s%06d", n), Timestamp: ts, Dataset: ds}
	switch n % 5 {
	case 2: // found by its primary key (timeKeyed)
		ev.ID = event.DeriveTimedID(ts, "stored", fmt.Sprint(n))
	case 4: // a Windows record's ID, of its second
		ev.ID = event.DeriveTimedID(ts.Truncate(time.Second), "stored", fmt.Sprint(n))
	}
	switch n % 9 {
	case 0:
		ev.Set("host.id", []any{fmt.Sprintf("host-%d", n%5), "host-x", fmt.Sprintf("host-%d", n%5)})
	case 1:
		ev.Set("host.id", []any{})
	case 2:
		ev.Set("host.id", strings.Repeat("h", 250+n%20)+fmt.Sprint(n%2))
	case 3:
		ev.Set("host.id", "a\x00b\x01c")
	case 4: // no host
	default:
		ev.Set("host.id", fmt.Sprintf("host-%d", n%5))
	}
	switch n % 5 {
	case 0:
		ev.Set("lachan.unit", "ward-1")
	case 1:
		ev.Set("lachan.unit", []any{"ward-1", "ward-2"})
	case 2:
		ev.Set("lachan.unit", "")
	case 3:
		ev.Set("lachan.unit", []any{"ward-3", "ward-3"})
	}
	switch {
	case n%3 != 0 && n%8 == 1:
		// As the server stamps it: the host's ID, whatever that holds.
		if h, ok := ev.Fields["host.id"]; ok {
			ev.Set("agent.id", h)
		}
	case n%3 != 0:
		ev.Set("agent.id", fmt.Sprintf("agent-%d", n%4))
	}
	if n%11 == 0 {
		ev.Set("rule.id", []any{"r1", "r2"})
	}
	ev.Set("user.name", fmt.Sprintf("user%d", n%13))
	ev.Set("process.pid", int64(n))
	if n%7 == 0 {
		ev.Set("tags", []any{"a", "b", "a"})
	}
	if n%17 == 0 {
		ev.Set("host", "x") // refused by the mapping: host is an object
	}
	if n%2 == 0 {
		ev.Set("source.ip", fmt.Sprintf("10.0.%d.%d", n%3, n%250))
	}
	return ev
}

// TestStoredBytes writes a fixed set of batches and compares a digest of
// every key and value the store then holds with testdata/stored.sum: a
// change to the write path meant to keep the stored form must keep the
// digest (refresh it with -update only when the form is meant to change).
func TestStoredBytes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	e, err := Open(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.genSize = 150 // generations end within batches
	e.now = func() time.Time { return benchT0 }
	n := 0
	for b, size := range []int{1, 400, 37, 1000, 3, 250, 600} {
		evs := make([]event.Event, 0, size)
		for range size {
			evs = append(evs, storedEvent(n))
			n++
		}
		if b == 3 {
			// Again: stored already, and twice in one batch.
			evs = append(evs, storedEvent(5), storedEvent(900), storedEvent(900))
		}
		if _, err := e.PutEvents(context.Background(), evs); err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
	}
	h := sha256.New()
	keys := 0
	it, err := e.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		for _, b := range [][]byte{it.Key(), it.Value()} {
			h.Write(binary.AppendUvarint(nil, uint64(len(b))))
			h.Write(b)
		}
		keys++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%d keys %s\n", keys, hex.EncodeToString(h.Sum(nil)))
	path := filepath.Join("testdata", "stored.sum")
	if *updateStored {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("stored data: %s, want %s", strings.TrimSpace(got), strings.TrimSpace(string(want)))
	}
}
