package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"lachan/detections"
	"lachan/internal/event"
	"lachan/server/correlate"
	"lachan/server/detect"
	"lachan/server/detect/winlog"
	"lachan/test/procstat"
	"lachan/test/shareddata"
)

var writeDetectEvents = flag.String("detect-events", "", "write the benchmark's event sets (200,000 events each, dense.jsonl and benign.jsonl) into this directory for timing the lachan binary, and skip")

var (
	sigmaOnce sync.Once
	sigmaE    *detect.Engine
	sigmaCorr *correlate.Set
	sigmaDirs []string
	sigmaErr  error
)

// sigmaHQ loads every SigmaHQ rule directory as `lachan detect --rules`
// would, once per test binary.
func sigmaHQ(tb testing.TB) (*detect.Engine, *correlate.Set) {
	tb.Helper()
	root := filepath.Join(shareddata.Dir(tb), "sigma", "sigmahq")
	dirs, _ := filepath.Glob(filepath.Join(root, "rules*"))
	if len(dirs) == 0 {
		shareddata.Missing(tb, "SigmaHQ rules not found under %s", root)
	}
	sigmaOnce.Do(func() {
		sigmaDirs = dirs
		sources, err := detect.LoadLogSources(detections.FS, detections.LogSourcesFile)
		if err != nil {
			sigmaErr = err
			return
		}
		rd, err := ruleDirs(dirs)
		if err != nil {
			sigmaErr = err
			return
		}
		sigmaE, _ = detect.LoadDirs(rd, sources, detect.DefaultConfig())
		sigmaCorr, _, sigmaErr = loadCorrelations(dirs, sigmaE)
	})
	if sigmaErr != nil {
		tb.Fatal(sigmaErr)
	}
	return sigmaE, sigmaCorr
}

// regressionTemplates returns the Windows events of SigmaHQ's regression
// data (nested JSON rendering), in file order.
func regressionTemplates(tb testing.TB) []map[string]any {
	tb.Helper()
	out, err := shareddata.RegressionEvents(filepath.Join(shareddata.Dir(tb), "sigma", "sigmahq", "regression_data"))
	if err != nil {
		shareddata.Missing(tb, "%v", err)
	}
	if len(out) == 0 {
		tb.Fatal("no regression events")
	}
	return out
}

// vary gives a template event of the set its i-th record number and time,
// as consecutive records of a real log would have.
func vary(obj map[string]any, i int) {
	ev, _ := obj["Event"].(map[string]any)
	sys, _ := ev["System"].(map[string]any)
	if sys == nil {
		return
	}
	sys["EventRecordID"] = 1_000_000 + i
	at := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * 7 * time.Millisecond)
	sys["TimeCreated"] = map[string]any{"#attributes": map[string]any{"SystemTime": at.Format(time.RFC3339Nano)}}
}

// eventSets returns n alert-dense events (the regression events, each of
// which raises an alert) and n benign events (the same shapes with
// ordinary values, those the rules stay silent on), as JSON lines.
func eventSets(tb testing.TB, e *detect.Engine, n int) (dense, quiet []byte, templates int) {
	tb.Helper()
	tmpl := regressionTemplates(tb)
	var silent []map[string]any
	for _, t := range tmpl {
		b := shareddata.Benign(t)
		src, _ := json.Marshal(b)
		var ms int
		err := winlog.ReadJSON(bytes.NewReader(src), func(ev event.Event, err error) error {
			if err == nil {
				ms += len(e.Match(ev))
			}
			return err
		})
		if err == nil && ms == 0 {
			silent = append(silent, b)
		}
	}
	if len(silent) == 0 {
		tb.Fatal("no benign template")
	}
	write := func(set []map[string]any) []byte {
		var buf bytes.Buffer
		for i := 0; i < n; i++ {
			t := set[i%len(set)]
			vary(t, i)
			line, err := json.Marshal(t)
			if err != nil {
				tb.Fatal(err)
			}
			buf.Write(line)
			buf.WriteByte('\n')
		}
		return buf.Bytes()
	}
	return write(tmpl), write(silent), len(silent)
}

// TestWriteDetectEvents writes the benchmark's event sets for timing the
// binary (-detect-events DIR); without the flag it does nothing.
func TestWriteDetectEvents(t *testing.T) {
	if *writeDetectEvents == "" {
		t.Skip("no -detect-events directory")
	}
	if err := os.MkdirAll(*writeDetectEvents, 0o755); err != nil {
		t.Fatal(err)
	}
	e, _ := sigmaHQ(t)
	dense, quiet, _ := eventSets(t, e, 200_000)
	for name, b := range map[string][]byte{"dense.jsonl": dense, "benign.jsonl": quiet} {
		if err := os.WriteFile(filepath.Join(*writeDetectEvents, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkDetectCommand runs the whole of `lachan detect` but rule
// loading in-process, all SigmaHQ rules loaded: reading JSON lines,
// matching, building each alert with its context and writing it as a JSON
// line. One iteration is one pass over a set of 20,000 events
// (LACHAN_BENCH_DETECT_EVENTS to change it): "dense", where every event
// raises at least one alert, and "benign", where none does. It reports
// events per CPU-second (the figure #18 sets targets for: 50,000 dense,
// 100,000 benign, one core), events per wall-second, alerts per event
// and output bytes per event. The garbage collector is set as the
// command sets it (batchGC).
func BenchmarkDetectCommand(b *testing.B) {
	n := 20_000
	if s := os.Getenv("LACHAN_BENCH_DETECT_EVENTS"); s != "" {
		fmt.Sscan(s, &n)
	}
	e, set := sigmaHQ(b)
	dense, quiet, _ := eventSets(b, e, n)
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	batchGC() // as the command does
	for _, c := range []struct {
		name string
		src  []byte
	}{{"dense", dense}, {"benign", quiet}} {
		b.Run(c.name, func(b *testing.B) {
			corr, err := correlate.New(set, nil, correlate.DefaultConfig(), slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			var out countWriter
			d := newDetectRun(e, corr, &out, io.Discard)
			b.SetBytes(int64(len(c.src)))
			b.ResetTimer()
			start, cpu0 := time.Now(), procstat.SelfCPU()
			for i := 0; i < b.N; i++ {
				if err := readEventFile("-", bytes.NewReader(c.src), d.brief, d.handler(context.Background(), "bench/"+c.name+".jsonl")); err != nil {
					b.Fatal(err)
				}
			}
			if err := d.flush(); err != nil {
				b.Fatal(err)
			}
			cpu, wall := procstat.SelfCPU()-cpu0, time.Since(start)
			b.StopTimer()
			if d.bad > 0 {
				b.Fatalf("%d unreadable records", d.bad)
			}
			b.ReportMetric(float64(d.events)/wall.Seconds(), "events/s")
			if cpu > 0 {
				b.ReportMetric(float64(d.events)/cpu.Seconds(), "events/cpu-s")
			}
			b.ReportMetric(float64(d.alerts)/float64(d.events), "alerts/event")
			b.ReportMetric(float64(out.n)/float64(d.events), "out-B/event")
		})
	}
}

// countWriter counts what is written to it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// BenchmarkDetectAlerts times writing the alerts alone, over every match
// of the dense events (decoded and matched beforehand): "before" builds
// each alert as an event and prints it through encoding/json as lachan
// detect did (oldPrint), "after" is the command's path. It reports CPU
// nanoseconds per alert.
func BenchmarkDetectAlerts(b *testing.B) {
	e, set := sigmaHQ(b)
	dense, _, _ := eventSets(b, e, 2_000)
	type matched struct {
		ev event.Event
		ms []detect.Match
	}
	var evs []matched
	alerts := 0
	err := readEventFile("-", bytes.NewReader(dense), false, func(ev event.Event, err error) error {
		if err != nil {
			return err
		}
		ev.Set("log.file.path", "bench/dense.jsonl")
		ms := e.Match(ev)
		alerts += len(ms)
		evs = append(evs, matched{ev, ms})
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	corr, err := correlate.New(set, nil, correlate.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		write func(w io.Writer, d *detectRun, m matched) error
	}{
		{"before", func(w io.Writer, _ *detectRun, m matched) error {
			for _, x := range m.ms {
				if err := oldPrint(w, x.Alert(m.ev)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"after", func(_ io.Writer, d *detectRun, m matched) error { return d.alertsOf(m.ev, m.ms) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var out countWriter
			d := newDetectRun(e, corr, &out, io.Discard)
			b.ResetTimer()
			cpu0 := procstat.SelfCPU()
			for i := 0; i < b.N; i++ {
				for _, m := range evs {
					if err := c.write(&out, d, m); err != nil {
						b.Fatal(err)
					}
				}
			}
			d.w.Flush()
			if cpu := procstat.SelfCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*alerts), "cpu-ns/alert")
			}
			b.ReportMetric(float64(out.n)/float64(b.N*alerts), "B/alert")
		})
	}
}
