package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/test/procstat"
)

var benchT0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// benchEvent returns event n of a synthetic process-start stream: about 600
// bytes of JSON, spread over hosts hosts.
func benchEvent(n, hosts int, ts time.Time) event.Event {
	ev := event.Event{ID: fmt.Sprintf("bench-%09d", n), Timestamp: ts, Dataset: event.DatasetOsquery}
	h := n % hosts
	// The server stamps an agent's events with its ID as both host.id
	// and agent.id (pipeline.StampAgent).
	ev.Set("host.id", fmt.Sprintf("host-%04d", h))
	ev.Set("host.name", fmt.Sprintf("WARD%02d-PC%03d", h%20, h))
	ev.Set("agent.id", fmt.Sprintf("host-%04d", h))
	ev.Set("lachan.unit", fmt.Sprintf("ward-%d", h%20))
	ev.Set("event.category", []string{"process"})
	ev.Set("event.action", "process_started")
	ev.Set("source.ip", fmt.Sprintf("10.%d.%d.%d", h%20, h/250, h%250))
	ev.Set("destination.ip", fmt.Sprintf("172.16.%d.%d", n%16, n%250))
	ev.Set("destination.port", int64(443))
	ev.Set("user.name", fmt.Sprintf("user%03d", n%300))
	ev.Set("process.pid", int64(1000+n%30000))
	ev.Set("process.name", "powershell.exe")
	ev.Set("process.command_line", "powershell.exe -NoProfile -ExecutionPolicy Bypass -File "+
		`C:\ProgramData\Agent\scripts\inventory-`+fmt.Sprint(n%97)+".ps1")
	ev.Set("process.hash.sha256", fmt.Sprintf("%040x", n*7919))
	return ev
}

// openBench opens a store with the default (production) sizes.
func openBench(b *testing.B, sync bool) *Engine {
	cfg := DefaultConfig()
	cfg.Dir, cfg.Sync = b.TempDir(), sync
	e, err := Open(cfg, logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

// diskPerEvent flushes the store, compacts it whole (the shape a day's
// partition settles into) and returns its tables' bytes per stored event.
func diskPerEvent(b *testing.B, e *Engine, events int) float64 {
	if err := e.db.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := e.db.Compact([]byte{0}, []byte{0xff}, true); err != nil {
		b.Fatal(err)
	}
	var size uint64
	for _, l := range e.db.Metrics().Levels {
		size += uint64(l.Size)
	}
	return float64(size) / float64(events)
}

// rawWriteCPU writes len(ids) documents, the stored form of tmpl's events
// under the primary keys the store gives them with those IDs, into a fresh
// Pebble database with the store's own options but nothing else (no
// de-duplication, no id/ or index entries, no generations), in batches of
// len(tmpl) committed as the store commits, and returns the CPU time it
// took: the floor the store's own ingest is measured against (raw-ratio).
func rawWriteCPU(b *testing.B, sync bool, tmpl []event.Event, ids []string) time.Duration {
	events := len(ids)
	cfg := DefaultConfig()
	cfg.Dir, cfg.Sync = b.TempDir(), sync
	cache := pebble.NewCache(cfg.cacheSize())
	defer cache.Unref()
	opts := pebbleOptions(cfg, logging.Discard(), nil, cache)
	db, err := pebble.Open(cfg.Dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	docs := make([][]byte, len(tmpl))
	for i, ev := range tmpl {
		if docs[i], err = encodeEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	cpu0 := procstat.SelfCPU()
	ok0 := cpu0 > 0
	for done := 0; done < events; done += len(tmpl) {
		batch := db.NewBatch()
		for i := range min(len(tmpl), events-done) {
			ts := benchT0.Add(time.Duration(done+i) * time.Millisecond)
			k := eventKey(partOf(tmpl[i].Dataset, ts), tsID(ts, ids[done+i]))
			if err := batch.Set(k, docs[i], nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Commit(wo); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
	cpu1 := procstat.SelfCPU()
	ok1 := cpu1 > 0
	if !ok0 || !ok1 {
		return 0
	}
	return cpu1 - cpu0
}

// benchIDs gives event n, at ts, its ID.
type benchIDs func(n int, ts time.Time) string

// timedIDs are IDs as agents and the sensor derive them: the time, then a
// hash of the record (event.DeriveTimedID).
func timedIDs(n int, ts time.Time) string { return event.DeriveTimedID(ts, "bench", fmt.Sprint(n)) }

// hashedIDs are IDs that are all hash (event.DeriveID), as agents before
// timed IDs sent every event and they still send YARA findings and osquery
// results.
func hashedIDs(n int, _ time.Time) string { return event.DeriveID("bench", fmt.Sprint(n)) }

// BenchmarkIngest writes batches of 1,000 new ~600-byte events, with their
// id/ and index entries, into one store for as long as the benchmark runs,
// so that memtable flushes and compactions are part of the figure. One op is
// one event. Run it with -cpu 1 for the per-core figure. The events' IDs
// are timed (timedIDs) but in ids=hashed, whose IDs are all hash.
func BenchmarkIngest(b *testing.B) {
	const batch = 1000
	for _, c := range []struct {
		name  string
		sync  bool
		hosts int // hosts in one batch: 300 mixed, or 1 as an agent's own batch
		ids   benchIDs
	}{
		{"sync=true", true, 300, timedIDs},
		{"sync=false", false, 300, timedIDs},
		{"agent-batches/sync=true", true, 1, timedIDs},
		{"ids=hashed/sync=true", true, 300, hashedIDs},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := openBench(b, c.sync)
			tmpl := make([]event.Event, batch)
			size := 0
			for i := range tmpl {
				tmpl[i] = benchEvent(i, 300, benchT0)
				doc, _ := tmpl[i].MarshalJSON()
				size += len(doc)
			}
			// One agent's batches: every event of a batch from the same PC,
			// ten PCs taking turns (made before the clock starts).
			var perHost [][]event.Event
			if c.hosts == 1 {
				for h := 0; h < 10; h++ {
					evs := make([]event.Event, batch)
					for i := range evs {
						evs[i] = tmpl[i]
						evs[i].Fields = hostFields(tmpl[i].Fields, h*29)
					}
					perHost = append(perHost, evs)
				}
			}
			// The IDs are made before the clock starts: hashing them is
			// the sender's work, not the store's.
			ids := make([]string, b.N)
			for n := range ids {
				ids[n] = c.ids(n, benchT0.Add(time.Duration(n)*time.Millisecond))
			}
			evs := make([]event.Event, batch)
			cpu0 := procstat.SelfCPU()
			cpuOK := cpu0 > 0
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				n := min(batch, b.N-done)
				for i := range n {
					evs[i] = tmpl[i]
					if perHost != nil {
						evs[i] = perHost[(done/batch)%len(perHost)][i]
					}
					evs[i].Timestamp = benchT0.Add(time.Duration(done+i) * time.Millisecond)
					evs[i].ID = ids[done+i]
				}
				fresh, err := e.PutEvents(context.Background(), evs[:n])
				if err != nil || len(fresh) != n {
					b.Fatalf("%d fresh, %v", len(fresh), err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			cpu1 := procstat.SelfCPU()
			ok := cpu1 > 0
			storeCPU := cpu1 - cpu0
			if ok && cpuOK && storeCPU > 0 {
				b.ReportMetric(float64(b.N)/storeCPU.Seconds(), "events/cpu-s")
			}
			b.ReportMetric(float64(size)/batch, "bytes/event")
			// What compaction read, per event: the work the index layout
			// leaves to the background.
			m := e.db.Metrics()
			var read uint64
			for _, l := range m.Levels {
				read += l.BytesRead
			}
			b.ReportMetric(float64(read)/float64(b.N), "compact-read-B/event")
			b.ReportMetric(diskPerEvent(b, e, b.N), "disk-B/event")
			if err := e.Close(); err != nil {
				b.Fatal(err)
			}
			if raw := rawWriteCPU(b, c.sync, tmpl, ids); ok && cpuOK && storeCPU > 0 && raw > 0 {
				b.ReportMetric(raw.Seconds()/storeCPU.Seconds(), "raw-ratio")
			}
		})
	}
}

// hostFields returns a copy of f with the host-bound fields of host h.
func hostFields(f map[string]any, h int) map[string]any {
	out := make(map[string]any, len(f))
	for k, v := range f {
		out[k] = v
	}
	out["host.id"] = fmt.Sprintf("host-%04d", h)
	out["host.name"] = fmt.Sprintf("WARD%02d-PC%03d", h%20, h)
	out["agent.id"] = fmt.Sprintf("host-%04d", h)
	out["lachan.unit"] = fmt.Sprintf("ward-%d", h%20)
	out["source.ip"] = fmt.Sprintf("10.%d.%d.%d", h%20, h/250, h%250)
	return out
}

// BenchmarkBatchKeys measures the writer's own work on a batch's keys
// once its events are encoded: adding 1,000 events (addEvent) and putting
// their entries, column blocks and posting lists in key order (sorted),
// for a batch of 300 PCs' events and for one PC's. One op is one batch;
// run it with -cpu 1.
func BenchmarkBatchKeys(b *testing.B) {
	for _, hosts := range []int{300, 1} {
		b.Run(fmt.Sprint("hosts=", hosts), func(b *testing.B) {
			p := partOf(event.DatasetOsquery, benchT0)
			evs := make([]event.Event, 1000)
			fields := make([][]field, len(evs))
			for i := range evs {
				evs[i] = benchEvent(i, 300, benchT0)
				if hosts == 1 {
					evs[i].Fields = hostFields(evs[i].Fields, 7)
				}
				evs[i].ID = fmt.Sprintf("b%010d", i)
				evs[i].Timestamp = benchT0.Add(time.Duration(i) * time.Millisecond)
				fields[i] = appendFields(nil, evs[i])
			}
			var bk batchKeys
			cpu0 := procstat.SelfCPU()
			for b.Loop() {
				for i, ev := range evs {
					bk.addEvent(p, 0, ev, fields[i])
				}
				if _, err := bk.sorted(); err != nil {
					b.Fatal(err)
				}
				bk.reset()
			}
			// CPU, not wall time: the figure holds on a busy machine.
			if cpu1 := procstat.SelfCPU(); cpu0 > 0 && cpu1 > cpu0 {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkGetEvents looks up 100 stored events by ID an op, in random
// order, in a store of 200,000 events flushed to tables: IDs that lead with
// their event's millisecond (found from the ID, with no id/ entry), IDs
// that lead with its second (a Windows record's: the id/ entry) and IDs
// that are all hash (the id/ entry). It reports CPU-ns per ID found.
func BenchmarkGetEvents(b *testing.B) {
	const events, perOp = 200_000, 100
	for _, c := range []struct {
		name string
		id   func(n int, ts time.Time) string
	}{
		{"ids=milli", timedIDs},
		{"ids=second", func(n int, ts time.Time) string { return timedIDs(n, ts.Truncate(time.Second)) }},
		{"ids=hashed", hashedIDs},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := openBench(b, false)
			ids := make([]string, events)
			evs := make([]event.Event, 0, 1000)
			for n := range events {
				// 250 µs apart, so that a second holds 4,000 events.
				ts := benchT0.Add(time.Duration(n) * 250 * time.Microsecond)
				ev := benchEvent(n, 300, ts)
				ev.ID = c.id(n, ts)
				ids[n] = ev.ID
				if evs = append(evs, ev); len(evs) == cap(evs) || n == events-1 {
					if _, err := e.PutEvents(context.Background(), evs); err != nil {
						b.Fatal(err)
					}
					evs = evs[:0]
				}
			}
			if err := e.db.Flush(); err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			ask := make([]string, perOp)
			found := 0
			cpu0 := procstat.SelfCPU()
			for b.Loop() {
				for i := range ask {
					ask[i] = ids[rng.IntN(events)]
				}
				got, err := e.GetEvents(context.Background(), ask)
				if err != nil || len(got) != perOp {
					b.Fatalf("%d of %d found, %v", len(got), perOp, err)
				}
				found += len(got)
			}
			if cpu1 := procstat.SelfCPU(); cpu0 > 0 && cpu1 > cpu0 {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(found), "cpu-ns/id")
			}
		})
	}
}
