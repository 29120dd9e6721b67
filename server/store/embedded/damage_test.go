package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"

	"github.com/cockroachdb/pebble"
)

const (
	damageBatches   = 75
	damageBatchSize = 40
)

// damageEvents returns batch b of the damage tests' writes.
func damageEvents(b int) []event.Event {
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	evs := make([]event.Event, damageBatchSize)
	for i := range evs {
		ev := event.New(event.DatasetOsquery, t0.Add(time.Duration(b*damageBatchSize+i)*time.Millisecond))
		ev.ID = fmt.Sprintf("dmg-%03d-%02d", b, i)
		ev.Set("host.id", fmt.Sprintf("host-%d", i%7))
		ev.Set("message", strings.Repeat("m", 400))
		evs[i] = ev
	}
	return evs
}

func damageIDs() []string {
	var ids []string
	for b := 0; b < damageBatches; b++ {
		for i := 0; i < damageBatchSize; i++ {
			ids = append(ids, fmt.Sprintf("dmg-%03d-%02d", b, i))
		}
	}
	return ids
}

// writeDamageStore writes 3,000 events with sync on, in batches, and returns
// a copy of the directory taken while the store was still open: what a
// crash would leave, with every event in the write-ahead log only.
func writeDamageStore(t *testing.T) string {
	t.Helper()
	cfg := testConfig(t.TempDir(), true)
	cfg.MemTableBytes = 64 << 20
	e, err := Open(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for b := 0; b < damageBatches; b++ {
		if _, err := e.PutEvents(context.Background(), damageEvents(b)); err != nil {
			t.Fatal(err)
		}
	}
	crashed := t.TempDir()
	copyDir(t, cfg.Dir, crashed)
	return crashed
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// lastFile returns the highest-numbered file of dir with suffix ext.
func lastFile(t *testing.T, dir, ext string) storeFile {
	t.Helper()
	fs, err := listFiles(dir, ext)
	if err != nil || len(fs) == 0 {
		t.Fatalf("no %s file in %s: %v", ext, dir, err)
	}
	return fs[len(fs)-1]
}

// flipByte inverts the byte at off of dir/name.
func flipByte(t *testing.T, dir, name string, off int64) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// storedIDs returns which of ids the store in dir holds.
func storedIDs(t *testing.T, dir string, ids []string) map[string]bool {
	t.Helper()
	e, err := Open(testConfig(dir, true), logging.Discard())
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	defer e.Close()
	got, err := e.GetEvents(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, ev := range got {
		have[ev.ID] = true
	}
	return have
}

// missingBatches returns the batches with an event missing from have.
func missingBatches(ids []string, have map[string]bool) map[string]int {
	out := map[string]int{}
	for _, id := range ids {
		if !have[id] {
			out[id[:len("dmg-000")]]++
		}
	}
	return out
}

func TestDamagedWAL(t *testing.T) {
	dir := writeDamageStore(t)
	wal := lastFile(t, dir, ".log")
	b, err := os.ReadFile(filepath.Join(dir, wal.name))
	if err != nil {
		t.Fatal(err)
	}
	scan := scanWAL(b, uint32(wal.num))
	if scan.Damaged() || len(scan.Records) < 2 {
		t.Fatalf("log before damage: %d records, gaps %v", len(scan.Records), scan.Gaps)
	}
	flipByte(t, dir, wal.name, scan.End/2)
	before, _ := os.ReadFile(filepath.Join(dir, wal.name))

	_, err = Open(testConfig(dir, true), logging.Discard())
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "write-ahead log "+wal.name+" is corrupt at offset") {
		t.Fatalf("open of a damaged log: %v", err)
	}
	rep, err := Check(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) != 1 || rep.Damage[0].File != wal.name || rep.Damage[0].Kind != DamageWAL {
		t.Fatalf("check: %+v", rep.Damage)
	}
	d := rep.Damage[0]
	if d.LostRecords == 0 || d.LostEvents == 0 || d.Offset > scan.End/2 || d.Offset+d.Length <= scan.End/2 {
		t.Fatalf("check did not place the damage at %d or count what follows: %s", scan.End/2, d)
	}

	aside := filepath.Join(t.TempDir(), "damaged")
	done, err := Repair(dir, aside)
	if err != nil || len(done) != 1 {
		t.Fatalf("repair: %v %+v", err, done)
	}
	if kept, _ := os.ReadFile(filepath.Join(aside, wal.name)); !bytes.Equal(kept, before) {
		t.Fatal("repair did not keep the damaged log as it was")
	}
	ids := damageIDs()
	have := storedIDs(t, dir, ids)
	if len(have) != rep.Events || done[0].KeptEvents != d.Events {
		t.Fatalf("check said %d events survive (%d in the damaged log), repair kept %d, the store holds %d", rep.Events, d.Events, done[0].KeptEvents, len(have))
	}
	// One flipped byte costs the one batch whose chunk it hit.
	if miss := missingBatches(ids, have); len(miss) != 1 {
		t.Fatalf("batches missing after repair: %v", miss)
	}
	if rep, err := Check(dir, true); err != nil || !rep.Clean() {
		t.Fatalf("check after repair: %v %+v", err, rep)
	}
}

func TestDamagedTable(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(testConfig(dir, true), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < damageBatches; b++ {
		if _, err := e.PutEvents(context.Background(), damageEvents(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	tables, err := listFiles(dir, ".sst")
	if err != nil {
		t.Fatal(err)
	}
	// The biggest table holds the events.
	var big storeFile
	var size int64
	for _, f := range tables {
		if fi, err := os.Stat(filepath.Join(dir, f.name)); err == nil && fi.Size() > size {
			big, size = f, fi.Size()
		}
	}
	flipByte(t, dir, big.name, size/3)

	_, err = Open(testConfig(dir, true), logging.Discard())
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "table "+big.name+" is corrupt") {
		t.Fatalf("open of a damaged table: %v", err)
	}
	rep, err := Check(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) != 1 || rep.Damage[0].File != big.name || rep.Damage[0].Kind != DamageTable {
		t.Fatalf("check: %+v", rep.Damage)
	}
	d := rep.Damage[0]
	if d.Offset < 0 || d.Offset > size/3 || d.Records == 0 || uint64(d.Records) >= d.Entries {
		t.Fatalf("check: %s", d)
	}
	done, err := Repair(dir, filepath.Join(t.TempDir(), "damaged"))
	if err != nil || len(done) < 1 || len(done) > 2 {
		t.Fatalf("repair: %v %+v", err, done)
	}
	// Events whose keys survive may have lost their rows with their
	// batches' blocks (layout 7): repair removes their keys and says so.
	lostRows := 0
	if len(done) == 2 {
		if done[1].Kind != DamageRows || !strings.Contains(done[1].String(), "lost with the column blocks of their batches") {
			t.Fatalf("repair: %+v", done[1])
		}
		lostRows = done[1].LostEvents
		t.Log(done[1])
	}
	ids := damageIDs()
	have := storedIDs(t, dir, ids)
	if len(have) != d.Events-lostRows || done[0].Kept != d.Records {
		t.Fatalf("check said %d events (%d entries) survive, repair kept %d entries and removed %d events with lost rows, the store holds %d events", d.Events, d.Records, done[0].Kept, lostRows, len(have))
	}
	if len(have) == 0 || len(have) == len(ids) {
		t.Fatalf("%d of %d events after repair", len(have), len(ids))
	}
	if rep, err := Check(dir, true); err != nil || !rep.Clean() {
		t.Fatalf("check after repair: %v %+v", err, rep)
	}
}

// A table a crash cut while a flush or compaction wrote it was never in the
// MANIFEST: it is not the store's, and open must not refuse over it.
func TestCutTableOfACrashIsNotDamage(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(testConfig(dir, true), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.PutEvents(context.Background(), damageEvents(0)); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// A half-written output: a table header with no footer.
	if err := os.WriteFile(filepath.Join(dir, "999999.sst"), bytes.Repeat([]byte{0x14, 0x11, 0x09}, 4000), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(dir, true)
	if err != nil || !rep.Clean() {
		t.Fatalf("check: %v %+v", err, rep)
	}
	e, err = Open(testConfig(dir, true), logging.Discard())
	if err != nil {
		t.Fatalf("open beside a cut table: %v", err)
	}
	e.Close()
}

// TestCompactedTableIsNotDamage: a table the open store listed and then
// compacted away (gone from the directory and from the list) is not
// damage; a listed table that is missing still is.
func TestCompactedTableIsNotDamage(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	must(t, db.Set([]byte("k"), []byte("v"), pebble.Sync))
	must(t, db.Flush())
	live, err := liveTablesOf(db)
	if err != nil || len(live) == 0 {
		t.Fatalf("tables after a flush: %v, %v", live, err)
	}
	var listed string
	for n := range live {
		if n != 0 {
			listed = fmt.Sprintf("%06d.sst", n)
		}
	}
	must(t, os.Rename(filepath.Join(dir, listed), filepath.Join(dir, listed+".aside")))
	damage := []Damage{
		{File: "999999.sst", Kind: DamageTable, Detail: "gone"},
		{File: listed, Kind: DamageTable, Detail: "missing"},
	}
	kept, err := stillListed(dir, db, damage)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0].File != listed {
		t.Errorf("kept %+v, want only %s", kept, listed)
	}
	must(t, os.Rename(filepath.Join(dir, listed+".aside"), filepath.Join(dir, listed)))
}

// TestSweepRows runs repair's walk of the events over a store that lost the
// blocks of one batch and the id/ entries of another: the first batch's
// events go, keys and id/ entries; the second's entries come back.
func TestSweepRows(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(testConfig(dir, true), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	for b := range 3 {
		if _, err := e.PutEvents(context.Background(), damageEvents(b)); err != nil {
			t.Fatal(err)
		}
	}
	// Batch 0 loses its blocks, batch 1 its id/ entries.
	evs0, evs1 := damageEvents(0), damageEvents(1)
	last0 := evs0[len(evs0)-1]
	p := partOf(last0.Dataset, last0.Timestamp)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: colGenPrefix(p, 0), UpperBound: prefixEnd(colGenPrefix(p, 0))})
	must(t, err)
	removed := 0
	for ok := it.First(); ok; ok = it.Next() {
		if bytes.HasSuffix(it.Key(), tsID(last0.Timestamp, last0.ID)) {
			must(t, e.db.Delete(it.Key(), nil))
			removed++
		}
	}
	must(t, it.Close())
	if removed == 0 {
		t.Fatal("no block of batch 0")
	}
	for _, ev := range evs1 {
		must(t, e.db.Delete(idKey(ev.ID), nil))
	}
	must(t, e.Close())

	lock, err := lockStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := sweepRows(dir, lock)
	lock.Close()
	if err != nil || sw.lost != len(evs0) || sw.restored != len(evs1) || !bytes.HasSuffix(sw.first, []byte(evs0[0].ID)) || !bytes.HasSuffix(sw.last, []byte(last0.ID)) {
		t.Fatalf("sweep: %+v, %v; want %d lost from %s to %s, %d restored", sw, err, len(evs0), evs0[0].ID, last0.ID, len(evs1))
	}
	ids := damageIDs()[:3*damageBatchSize]
	have := storedIDs(t, dir, ids)
	for i, id := range ids {
		if have[id] != (i >= damageBatchSize) {
			t.Fatalf("%s stored: %v", id, have[id])
		}
	}
	e, err = Open(testConfig(dir, true), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, ev := range evs0 {
		if _, ok, err := getCopy(e.db, idKey(ev.ID)); ok || err != nil {
			t.Fatalf("%s: id/ entry left, %v", ev.ID, err)
		}
	}
	// A lost event sent again is stored again.
	if fresh, err := e.PutEvents(context.Background(), evs0[:1]); err != nil || len(fresh) != 1 {
		t.Fatalf("put a lost event again: %d fresh, %v", len(fresh), err)
	}
}
