package embedded

import (
	"testing"
	"time"
)

func TestGenOverlaps(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	g := genInfo{min: t0.UnixNano(), max: t0.Add(time.Hour).UnixNano()}
	for _, c := range []struct {
		from, to time.Time
		want     bool
	}{
		{time.Time{}, time.Time{}, true},
		{t0, t0.Add(time.Nanosecond), true},                        // [from, to) holds min
		{t0.Add(-time.Hour), t0, false},                            // to is exclusive
		{t0.Add(time.Hour), time.Time{}, true},                     // from holds max
		{t0.Add(time.Hour + time.Nanosecond), time.Time{}, false},  // after max
		{time.Time{}, t0.Add(-time.Nanosecond), false},             // before min
		{minTime.Add(-time.Hour), maxTime.Add(time.Hour), true},    // bounds beyond int64 nanoseconds
		{t0.Add(30 * time.Minute), t0.Add(31 * time.Minute), true}, // inside
		{t0.Add(-48 * time.Hour), t0.Add(-24 * time.Hour), false},  // a day before
	} {
		if got := g.overlaps(c.from, c.to); got != c.want {
			t.Errorf("overlaps(%v, %v) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

func TestGenRecordRoundTrip(t *testing.T) {
	p := makePart('n', 20415)
	g := genInfo{n: 7, min: -5, max: 1 << 62, count: 99}
	got, err := decodeGen(p, genKey(p, 7), g.value())
	if err != nil || got != g {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, g)
	}
	if _, err := decodeGen(p, genKey(p, 7), g.value()[:20]); err == nil {
		t.Error("a short record decoded without error")
	}
}
