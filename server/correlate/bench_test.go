package correlate

import (
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/detect"
)

// BenchmarkOpenKeys opens keys of an event_count rule (gte 5, so each key
// fires at its fifth event, so a key holds at most 4) and reports the heap they take: bytes per key
// with one event each (the common open key) and with the ring full (the
// bound). Run with -benchtime=1x.
func BenchmarkOpenKeys(b *testing.B) {
	for _, tc := range []struct {
		name       string
		keys, each int
	}{{"1M-keys-1-event", 1_000_000, 1}, {"100k-keys-1-event", 100_000, 1}, {"200k-keys-4-events", 200_000, 4}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				perKey := openKeys(b, tc.keys, tc.each)
				b.ReportMetric(perKey, "bytes/key")
				b.ReportMetric(perKey*1e6/(1<<20), "MiB/1M-keys")
			}
		})
	}
}

func openKeys(b *testing.B, keys, each int) float64 {
	rules, bases, err := ParseFile("c.yml", []byte(failedLogin+"---\n"+`title: Five failures
id: 33333333-0000-4000-8000-000000000009
correlation: {type: event_count, rules: [failed_login], group-by: [User], timespan: 1h, condition: {gte: 5}}
`))
	if err != nil {
		b.Fatal(err)
	}
	set, errs := NewSet(rules, bases, []*detect.Rule{{ID: "5638f7c0-ac70-491d-8465-2a65075e0d86"}})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	cfg := DefaultConfig()
	cfg.MaxKeys = keys
	cfg.Tolerance = 24 * time.Hour
	c, err := New(set, nil, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	c.now = func() time.Time { return t0.Add(1000 * time.Hour) }
	f := set.feeds["5638f7c0-ac70-491d-8465-2a65075e0d86"][0]
	evs := make([]event.Event, each)
	for j := range evs {
		evs[j] = event.New("windows.security", t0.Add(time.Duration(j)*time.Second))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for k := 0; k < keys; k++ {
		user := "user-" + strconv.Itoa(k)
		for j := range evs {
			evs[j].ID = event.DeriveID(user, strconv.Itoa(j))
			evs[j].Fields["User"] = user
			c.add(f, evs[j])
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.nkeys != keys {
		b.Fatalf("%d keys open, want %d", c.nkeys, keys)
	}
	runtime.KeepAlive(c)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(keys)
}
