package sensor

import (
	"bytes"
	"context"
	"net/netip"
	"runtime"
	"testing"

	"lachan/internal/event"
	"lachan/test/pcapgen"
	"lachan/test/procstat"
)

// discard is a Sink that drops every record.
type discard struct{}

func (discard) Flow(*Flow) error        { return nil }
func (discard) Event(event.Event) error { return nil }

func benchCapture(b testing.TB) []byte {
	var buf bytes.Buffer
	err := pcapgen.Write(&buf, pcapgen.Options{
		Client: netip.MustParseAddr("192.168.1.10"), Server: netip.MustParseAddr("93.184.216.34"),
		DNSServer: netip.MustParseAddr("192.168.1.1"), Domain: "example.org", Start: t0, Flows: 2000, Seed: 1,
	})
	if err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDecode measures a capture to all its records: typed flow
// records ("records", what the sensor makes), and the same converted to
// events ("events", what Decode's callers get).
func BenchmarkDecode(b *testing.B) {
	data := benchCapture(b)
	for _, bc := range []struct {
		name string
		sink Sink
	}{
		{"records", discard{}},
		{"events", EventSink(func(event.Event) error { return nil })},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var packets int64
			var before, after runtime.MemStats
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			runtime.ReadMemStats(&before)
			cpu0 := procstat.SelfCPU()
			for b.Loop() {
				st, err := DecodeRecords(context.Background(), bytes.NewReader(data), DefaultConfig(), bc.sink)
				if err != nil || st.DecodeErrors != 0 {
					b.Fatalf("Decode: %v, stats %+v", err, st)
				}
				packets += st.Packets
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
			// CPU time of the process (garbage collection included) is what
			// one core would need; wall time on a shared machine says less.
			b.ReportMetric(float64(packets)/(procstat.SelfCPU()-cpu0).Seconds(), "packets/cpu-s")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(packets), "B/packet")
		})
	}
}
