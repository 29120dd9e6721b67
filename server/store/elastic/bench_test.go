package elastic

import (
	"fmt"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
	"lachan/test/procstat"
)

// benchEvents makes n network-flow events of about 600 bytes of JSON,
// the shape the sensor produces.
func benchEvents(n int) []event.Event {
	out := make([]event.Event, n)
	base := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for i := range out {
		e := event.Event{ID: event.DeriveID("bench", fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Dataset: event.DatasetFlow, Fields: map[string]any{}}
		e.Set("event.kind", "event")
		e.Set("event.category", "network")
		e.Set("event.type", "connection")
		e.Set("event.duration", int64(1e9))
		e.Set("source.ip", fmt.Sprintf("10.1.%d.%d", i%250, i%200))
		e.Set("source.port", int64(40000+i%20000))
		e.Set("destination.ip", "203.113.131.1")
		e.Set("destination.port", int64(443))
		e.Set("source.bytes", int64(1200+i%900))
		e.Set("source.packets", int64(12))
		e.Set("destination.bytes", int64(54000))
		e.Set("destination.packets", int64(40))
		e.Set("network.transport", "tcp")
		e.Set("network.protocol", "tls")
		e.Set("network.type", "ipv4")
		e.Set("network.community_id", "1:LQU9qZlK+B5F3KDmev6m5PMibrg=")
		e.Set("flow.end_reason", "fin")
		e.Set("host.id", "agent-0042")
		e.Set("lachan.unit", "phuong-ben-thanh")
		out[i] = e
	}
	return out
}

// BenchmarkEncodeBulk measures the client-side cost of turning events into
// bulk NDJSON (action and document lines): "encode" alone, and
// "check+encode" with the mapping check PutEvents also runs.
func BenchmarkEncodeBulk(b *testing.B) {
	evs := benchEvents(1000)
	e := &Engine{mapping: store.DefaultMapping(), names: names{"lachan"}}
	b.Run("encode", func(b *testing.B) { benchEncode(b, e, evs, false) })
	b.Run("check+encode", func(b *testing.B) { benchEncode(b, e, evs, true) })
}

func benchEncode(b *testing.B, e *Engine, evs []event.Event, check bool) {
	enc := &encoder{names: e.names}
	buf := make([]byte, 0, 1<<20)
	var bytes int
	b.ReportAllocs()
	start := procstat.SelfCPU()
	wall := time.Now()
	n := 0
	for b.Loop() {
		buf = buf[:0]
		for i := range evs {
			if check && e.check(evs[i]) != nil {
				b.Fatal("bench event fails the mapping")
			}
			var err error
			if buf, err = enc.appendCreate(buf, evs[i]); err != nil {
				b.Fatal(err)
			}
		}
		bytes = len(buf)
		n += len(evs)
	}
	cpu := procstat.SelfCPU() - start
	if cpu <= 0 {
		cpu = time.Since(wall)
	}
	perCore := float64(n) / cpu.Seconds()
	b.ReportMetric(perCore, "events/s/core")
	b.ReportMetric(50000/perCore, "core-at-50k/s")
	b.ReportMetric(float64(bytes)/float64(len(evs)), "bytes/event")
}
