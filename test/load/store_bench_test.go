package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/server/pipeline"
	"lachan/server/store/embedded"
	"lachan/test/procstat"
	"lachan/test/shareddata"
)

// Shape of the store's writes under the load this command makes, as the
// server shapes them: each agent ships what it made over the last
// interval in one batch, and the pipeline commits the batches that wait
// together in one store write (server/pipeline/commit.go).
const (
	benchAgents   = 2000             // the figure
	benchRate     = 20000            // events a second, all agents together
	benchInterval = 10 * time.Second // the agent's ship.interval
	benchPerBatch = benchRate * int(benchInterval/time.Second) / benchAgents
	// At the rate 200 batches a second arrive, and a commit of a
	// thousand events (store work and fsync) takes tens of milliseconds:
	// about ten batches wait for each.
	benchGroup      = 10  // agents' batches in one commit
	benchPoolAgents = 200 // decoded batches kept and re-stamped in turn
)

// BenchmarkStoreIngest writes the events this command's agents send, as
// the server receives them (api.DecodeBatch, then pipeline.FromOsquery,
// pipeline.StampAgent and event.ingested, as Pipeline.IngestAgent), into
// the embedded store with the server's options (embedded.DefaultConfig:
// fsync on): batches of benchPerBatch events from one agent, covering the
// interval before they are sent, benchGroup batches of different agents
// to one PutEvents. One op is one event. It reports the process's CPU per
// event from the first write until the store has settled (Pebble's
// background flushes and compactions included, also those the writes
// left owed) and the bytes of the store's tables per event then. Alerts
// are not in it: the pipeline stores them beside the events, about one
// in a hundred.
//
// The batches are decoded before the clock starts; in the loop each gets
// new IDs and times and the identity of the next agent in turn, which
// costs the loop about as much as the server's own stamping.
func BenchmarkStoreIngest(b *testing.B) {
	data := shareddata.Dir(b)
	if _, err := os.Stat(filepath.Join(data, "sigma", "sigmahq", "regression_data")); err != nil {
		shareddata.Missing(b, "SigmaHQ regression data: %v", err)
	}
	cfg, err := parseFlags(flag.NewFlagSet("load", flag.ContinueOnError), []string{"-data", data})
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := loadTemplates(filepath.Join(data, "sigma", "sigmahq"), cfg.mix)
	if err != nil {
		b.Fatal(err)
	}
	agents := make([]fleet.Agent, benchAgents)
	for i := range agents {
		agents[i] = fleet.Agent{ID: event.NewID(), Unit: fmt.Sprintf("load-ward-%02d", i%cfg.wards), Host: hostOf(i, sourceAddr(i))}
	}
	pool, lineBytes := benchBatches(b, tmpl, agents[:benchPoolAgents])

	scfg := embedded.DefaultConfig()
	scfg.Dir = b.TempDir()
	st, err := embedded.Open(scfg, logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	// IDs of event.NewID's form, made before the clock starts.
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = string(appendID(nil, t0.Add(time.Duration(i)*time.Second/benchRate), rng))
	}
	step := benchInterval / time.Duration(benchPerBatch)
	group := make([]event.Event, 0, benchGroup*benchPerBatch)
	ctx := context.Background()

	cpu0 := procstat.SelfCPU()
	b.ResetTimer()
	for done, batch := 0, 0; done < b.N; {
		group = group[:0]
		for g := 0; g < benchGroup && done+len(group) < b.N; g, batch = g+1, batch+1 {
			evs := pool[batch%len(pool)]
			a := agents[batch%len(agents)]
			sent := t0.Add(time.Duration(batch*benchPerBatch) * time.Second / benchRate)
			for i := range evs {
				if done+len(group) == b.N {
					break
				}
				ev := evs[i]
				pipeline.StampAgent(&ev, a)
				ev.ID = ids[done+len(group)]
				ev.Timestamp = sent.Add(-benchInterval + time.Duration(i)*step)
				group = append(group, ev)
			}
		}
		fresh, err := st.PutEvents(ctx, group)
		if err != nil || len(fresh) != len(group) {
			b.Fatalf("%d of %d stored: %v", len(fresh), len(group), err)
		}
		done += len(group)
	}
	// The flushes and compactions the events left owed are theirs too:
	// without them a larger memtable or a later compaction would look
	// cheaper only by leaving its work outside the figure.
	if err := st.Settle(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := procstat.SelfCPU() - cpu0
	if cpu0 > 0 && cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(lineBytes, "line-B/event")
	b.ReportMetric(float64(tableBytes(b, scfg.Dir))/float64(b.N), "disk-B/event")
}

// benchBatches makes one batch of benchPerBatch events for each of agents
// as the server decodes and stamps it, and returns them with the mean
// size of an event's NDJSON line.
func benchBatches(b *testing.B, tmpl *templates, agents []fleet.Agent) ([][]event.Event, float64) {
	rng := rand.New(rand.NewPCG(3, 4))
	now := time.Now()
	ts := now.UTC().AppendFormat(nil, time.RFC3339Nano)
	ingested := now.UTC().Format(time.RFC3339Nano)
	var out [][]event.Event
	size := 0
	for k, a := range agents {
		var raw []byte
		for i := range benchPerBatch {
			raw = tmpl.appendLine(raw, uint64(k*benchPerBatch+i), ts, now, rng)
		}
		size += len(raw)
		evs, err := api.DecodeBatch(raw)
		if err != nil {
			b.Fatal(err)
		}
		for i := range evs {
			if o, ok, err := pipeline.FromOsquery(evs[i]); err != nil {
				b.Fatal(err)
			} else if ok {
				evs[i] = o
			}
			pipeline.StampAgent(&evs[i], a)
			evs[i].Set("event.ingested", ingested)
		}
		out = append(out, evs)
	}
	return out, float64(size) / float64(len(agents)*benchPerBatch)
}

// tableBytes sums the sizes of the Pebble tables under dir.
func tableBytes(b *testing.B, dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".sst") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			b.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}
