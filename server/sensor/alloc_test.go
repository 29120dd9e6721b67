package sensor

import (
	"bytes"
	"context"
	"runtime"
	"testing"
)

// TestDecodeAllocationBudget keeps decoding to typed records within the
// issue's budget of 50 bytes allocated per packet on the synthetic mix.
func TestDecodeAllocationBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what is allocated")
	}
	data := benchCapture(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := DecodeRecords(context.Background(), bytes.NewReader(data), DefaultConfig(), discard{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if perPacket := float64(after.TotalAlloc-before.TotalAlloc) / float64(st.Packets); perPacket >= 50 {
		t.Errorf("%.1f bytes allocated per packet, want under 50", perPacket)
	}
}
