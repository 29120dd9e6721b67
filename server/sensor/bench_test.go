package sensor

import (
	"bytes"
	"context"
	"net/netip"
	"testing"

	"lachan/internal/event"
	"lachan/test/pcapgen"
)

func BenchmarkDecode(b *testing.B) {
	var buf bytes.Buffer
	err := pcapgen.Write(&buf, pcapgen.Options{
		Client: netip.MustParseAddr("192.168.1.10"), Server: netip.MustParseAddr("93.184.216.34"),
		DNSServer: netip.MustParseAddr("192.168.1.1"), Domain: "example.org", Start: t0, Flows: 2000, Seed: 1,
	})
	if err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	var packets int64
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st, err := Decode(context.Background(), bytes.NewReader(data), DefaultConfig(), func(event.Event) error { return nil })
		if err != nil || st.DecodeErrors != 0 {
			b.Fatalf("Decode: %v, stats %+v", err, st)
		}
		packets += st.Packets
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
}
