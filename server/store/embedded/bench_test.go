package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/store"
)

var benchT0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// benchEvent returns event n of a synthetic process-start stream: about 600
// bytes of JSON, spread over hosts hosts.
func benchEvent(n, hosts int, ts time.Time) event.Event {
	ev := event.Event{ID: fmt.Sprintf("bench-%09d", n), Timestamp: ts, Dataset: event.DatasetOsquery}
	h := n % hosts
	ev.Set("host.id", fmt.Sprintf("host-%04d", h))
	ev.Set("host.name", fmt.Sprintf("WARD%02d-PC%03d", h%20, h))
	ev.Set("agent.id", fmt.Sprintf("agent-%04d", h))
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

// BenchmarkPutEvents writes batches of 500 new events.
func BenchmarkPutEvents(b *testing.B) {
	const batch = 500
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			e := openBench(b, sync)
			tmpl := make([]event.Event, batch)
			size := 0
			for i := range tmpl {
				tmpl[i] = benchEvent(i, 300, benchT0)
				doc, _ := tmpl[i].MarshalJSON()
				size += len(doc)
			}
			evs := make([]event.Event, batch)
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				for i := range evs {
					evs[i] = tmpl[i]
					evs[i].ID = fmt.Sprintf("b%08d-%03d", n, i)
					evs[i].Timestamp = benchT0.Add(time.Duration(n*batch+i) * time.Millisecond)
				}
				fresh, err := e.PutEvents(context.Background(), evs)
				if err != nil || len(fresh) != batch {
					b.Fatalf("%d fresh, %v", len(fresh), err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(size)/batch, "bytes/event")
		})
	}
}

// BenchmarkSearchHost asks for one host's events in a one-hour window of a
// day holding 200,000 events from 200 hosts.
func BenchmarkSearchHost(b *testing.B) {
	const total, hosts = 200_000, 200
	e := openBench(b, false)
	step := 24 * time.Hour / total
	for start := 0; start < total; start += 1000 {
		evs := make([]event.Event, 0, 1000)
		for n := start; n < start+1000; n++ {
			evs = append(evs, benchEvent(n, hosts, benchT0.Add(time.Duration(n)*step)))
		}
		if _, err := e.PutEvents(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.db.Flush(); err != nil {
		b.Fatal(err)
	}
	b.Run("host+1h", func(b *testing.B) {
		found := 0
		for n := 0; n < b.N; n++ {
			from := benchT0.Add(time.Duration(n%23) * time.Hour)
			page, err := e.SearchEvents(context.Background(), store.Query{
				Terms: map[string][]string{"host.id": {fmt.Sprintf("host-%04d", n%hosts)}},
				From:  from, To: from.Add(time.Hour),
				Units: []string{fmt.Sprintf("ward-%d", n%hosts%20)},
			})
			if err != nil {
				b.Fatal(err)
			}
			found += len(page.Events)
		}
		if found == 0 {
			b.Fatal("the queries found nothing")
		}
		b.ReportMetric(float64(found)/float64(b.N), "events/op")
	})
}
