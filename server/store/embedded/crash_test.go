package embedded

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/store"
)

// The crash test's child reads its orders from these variables.
const (
	crashDirEnv   = "LACHAN_STORE_CRASH_DIR"
	crashStartEnv = "LACHAN_STORE_CRASH_START"
)

const (
	crashRounds    = 5
	crashBatchSize = 40
	// crashOverlap events of each batch repeat IDs of the batch before, with
	// a new timestamp, so that a de-duplication miss would store a second
	// copy under a different key.
	crashOverlap = 5
)

// crashBatch returns batch b of the child's writes.
func crashBatch(b int) []event.Event {
	now := time.Now().UTC()
	evs := make([]event.Event, 0, crashBatchSize)
	for i := 0; i < crashBatchSize; i++ {
		batch, n := b, i
		if i < crashOverlap && b > 0 {
			batch, n = b-1, crashBatchSize-1-i
		}
		ev := event.New(event.DatasetOsquery, now.Add(time.Duration(i)*time.Microsecond))
		ev.ID = fmt.Sprintf("crash-%06d-%02d", batch, n)
		ev.Set("host.id", fmt.Sprintf("host-%d", n%7))
		ev.Set("lachan.unit", "ward-1")
		ev.Set("message", strings.Repeat("m", 400))
		evs = append(evs, ev)
	}
	return evs
}

// TestCrashChild is the child side of TestCrash: it writes batches with
// Sync and prints "ACK <batch> <ids>" after each PutEvents returns, until it
// is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child of TestCrash; runs only when started by it")
	}
	start, err := strconv.Atoi(os.Getenv(crashStartEnv))
	if err != nil {
		t.Fatalf("%s: %v", crashStartEnv, err)
	}
	e, err := Open(testConfig(dir, true), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	// A child whose parent is gone must not write forever.
	deadline := time.Now().Add(30 * time.Second)
	for b := start; time.Now().Before(deadline); b++ {
		evs := crashBatch(b)
		if _, err := e.PutEvents(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(evs))
		for i, ev := range evs {
			ids[i] = ev.ID
		}
		// One write per line: a kill never leaves half an acknowledgement
		// that looks whole.
		if _, err := io.WriteString(os.Stdout, fmt.Sprintf("ACK %d %s\n", b, strings.Join(ids, ","))); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
}

// TestCrash kills a writing child at random moments and checks that every
// acknowledged event survives, exactly once, and the store opens cleanly.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	acked := map[string]bool{}
	start := 0
	for round := 0; round < crashRounds; round++ {
		last := crashRound(t, dir, start, time.Duration(rng.Intn(150))*time.Millisecond, acked)
		// Start again a little before the last acknowledged batch, so that
		// acknowledged batches and the one that may have landed unacknowledged
		// are written again.
		start = max(0, last-2)
	}
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged in any round")
	}
	checkCrashStore(t, dir, acked)
}

// crashRound runs one child from batch start, kills it delay after its first
// acknowledgement, records what it acknowledged and returns its last batch.
func crashRound(t *testing.T, dir string, start int, delay time.Duration, acked map[string]bool) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashStartEnv+"="+strconv.Itoa(start))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	last := start - 1
	record := func(line string) {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "ACK" {
			return
		}
		b, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("child printed %q", line)
		}
		last = b
		for _, id := range strings.Split(f[2], ",") {
			acked[id] = true
		}
	}
	select {
	case line, ok := <-lines:
		if !ok {
			cmd.Wait()
			t.Fatalf("child ended before writing anything: %s", stderr.String())
		}
		record(line)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child acknowledged nothing in 30 s")
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		record(line)
	}
	cmd.Wait()
	return last
}

// checkCrashStore opens the crashed store and checks it against what the
// children acknowledged.
func checkCrashStore(t *testing.T, dir string, acked map[string]bool) {
	t.Helper()
	e := openAt(t, dir, true)
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	got, err := e.GetEvents(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("%d of %d acknowledged events survived", len(got), len(ids))
	}
	seen := map[string]bool{}
	q := store.Query{Limit: store.MaxLimit}
	for {
		page, err := e.SearchEvents(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if seen[ev.ID] {
				t.Fatalf("%s stored twice", ev.ID)
			}
			seen[ev.ID] = true
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	// Every batch lands whole or not at all: one id/ entry and one host.id
	// posting entry per stored event, in whichever partitions they fell.
	counts := map[string]int{prefixEvent: 0, prefixID: 0, "host.id index": 0}
	count := func(lo string, classify func(k []byte) string) {
		it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte(lo), UpperBound: prefixEnd([]byte(lo))})
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			switch c := classify(it.Key()); c {
			case "":
			case "host.id index":
				list, err := postingKeys(e.db, it.Key(), it.Value())
				if err != nil {
					t.Fatalf("posting %q: %v", it.Key(), err)
				}
				counts[c] += len(list)
			default:
				counts[c]++
			}
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	count(prefixID, func([]byte) string { return prefixID })
	count(prefixPart, func(k []byte) string {
		rest := k[len(prefixPart)+partLen:]
		switch {
		case bytes.HasPrefix(rest, []byte(prefixEvent)):
			return prefixEvent
		case bytes.HasPrefix(rest, []byte(prefixIndex)) && bytes.HasPrefix(rest[len(prefixIndex)+4:], []byte("host.id\x00")):
			return "host.id index"
		}
		return ""
	})
	for p, n := range counts {
		if n != len(seen) {
			t.Errorf("%d keys under %q for %d events", n, p, len(seen))
		}
	}
	t.Logf("%d events acknowledged, %d stored", len(acked), len(seen))
}
