package sigmago

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"

	"lachan/detections"
	"lachan/internal/event"
	"lachan/server/detect"
	"lachan/server/detect/winlog"
	"lachan/test/procstat"
	"lachan/test/shareddata"
)

// sharedData finds ../shared/data beside the repository (this module sits
// two levels down), or $LACHAN_SHARED_DATA.
func sharedData(tb testing.TB) string {
	d := os.Getenv("LACHAN_SHARED_DATA")
	if d == "" {
		d = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(d, "sigma", "sigmahq")); err != nil {
		shareddata.Missing(tb, "SigmaHQ data not found under %s (set LACHAN_SHARED_DATA): %v", d, err)
	}
	return d
}

// ruleSet is the SigmaHQ rules both engines take: those lachan loads and
// sigma-go parses.
type ruleSet struct {
	files    fstest.MapFS
	sigmago  []sigma.Rule
	lachan   int // rules lachan loads
	excluded int // of those, rules sigma-go cannot parse or evaluate
}

func loadRuleSet(tb testing.TB, root string) ruleSet {
	sources, err := detect.LoadLogSources(detections.FS, detections.LogSourcesFile)
	if err != nil {
		tb.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "rules*"))
	var rd []detect.RuleDir
	for _, d := range dirs {
		rd = append(rd, detect.RuleDir{FS: os.DirFS(d), Root: ".", Name: filepath.Base(d)})
	}
	all, _ := detect.LoadDirs(rd, sources, detect.DefaultConfig())
	rs := ruleSet{files: fstest.MapFS{}, lachan: len(all.Rules())}
	for _, r := range all.Rules() {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(r.File)))
		if err != nil {
			tb.Fatal(err)
		}
		sr, ok := sigmaGoRule(src)
		if !ok {
			rs.excluded++
			continue
		}
		rs.sigmago = append(rs.sigmago, sr)
		rs.files[r.File] = &fstest.MapFile{Data: src}
	}
	return rs
}

// sigmaGoRule parses a rule with sigma-go and checks that an evaluator can
// be built from it (sigma-go panics on some rules it parses).
func sigmaGoRule(src []byte) (r sigma.Rule, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	r, err := sigma.ParseRule(src)
	if err != nil {
		return r, false
	}
	evaluator.ForRule(r)
	return r, true
}

func regressionEvents(tb testing.TB, root string) []event.Event {
	var evs []event.Event
	err := filepath.WalkDir(filepath.Join(root, "regression_data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".json" {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return winlog.ReadJSON(f, func(ev event.Event, err error) error {
			if err == nil {
				evs = append(evs, ev)
			}
			return nil
		})
	})
	if err != nil || len(evs) == 0 {
		tb.Fatalf("regression events: %d read, %v", len(evs), err)
	}
	return evs
}

// rate runs fn over events until at least min has passed and returns
// events per wall-clock second and per CPU-second, and the alert count of
// the first pass.
func rate(evs []event.Event, min time.Duration, fn func(event.Event) int) (wall, cpu float64, alerts int) {
	runtime.GC()
	start, cpu0 := time.Now(), procstat.SelfCPU()
	n := 0
	for pass := 0; pass == 0 || time.Since(start) < min; pass++ {
		for _, ev := range evs {
			k := fn(ev)
			if pass == 0 {
				alerts += k
			}
			n++
		}
	}
	w := time.Since(start).Seconds()
	c := (procstat.SelfCPU() - cpu0).Seconds()
	if c <= 0 {
		c = w
	}
	return float64(n) / w, float64(n) / c, alerts
}

// BenchmarkSigmaGoComparison runs the Windows events of SigmaHQ's
// regression data through lachan's engine and through sigma-go v0.6.6
// (every rule's evaluator on every event, and its bundle of all rules),
// with the same rules on both sides, in one run, and reports each rate and
// lachan's ratio to each. Run it once: -benchtime 1x.
func BenchmarkSigmaGoComparison(b *testing.B) {
	root := filepath.Join(sharedData(b), "sigma", "sigmahq")
	rs := loadRuleSet(b, root)
	sources, err := detect.LoadLogSources(detections.FS, detections.LogSourcesFile)
	if err != nil {
		b.Fatal(err)
	}
	eng, errs := detect.LoadDirs([]detect.RuleDir{{FS: rs.files, Root: "."}}, sources, detect.DefaultConfig())
	if len(errs) > 0 {
		b.Fatalf("the common rules do not all load: %v", errs[0])
	}
	evs := regressionEvents(b, root)
	evaluators := make([]*evaluator.RuleEvaluator, len(rs.sigmago))
	for i, r := range rs.sigmago {
		evaluators[i] = evaluator.ForRule(r)
	}
	bundle := evaluator.ForRules(rs.sigmago)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lw, lc, la := rate(evs, 2*time.Second, func(ev event.Event) int { return len(eng.Match(ev)) })
		sw, sc, sa := rate(evs, 0, func(ev event.Event) int {
			n := 0
			for _, e := range evaluators {
				if res, err := e.Matches(ctx, ev.Fields); err == nil && res.Match {
					n++
				}
			}
			return n
		})
		bw, bc, ba := rate(evs, 0, func(ev event.Event) int {
			res, err := bundle.Matches(ctx, ev.Fields)
			if err != nil {
				return 0
			}
			n := 0
			for _, r := range res {
				if r.Match {
					n++
				}
			}
			return n
		})
		b.ReportMetric(float64(len(eng.Rules())), "rules")
		b.ReportMetric(float64(rs.excluded), "rules-excluded")
		b.ReportMetric(lw, "lachan-events/s")
		b.ReportMetric(lc, "lachan-events/cpu-s")
		b.ReportMetric(sw, "sigmago-events/s")
		b.ReportMetric(sc, "sigmago-events/cpu-s")
		b.ReportMetric(bw, "sigmago-bundle-events/s")
		b.ReportMetric(lc/sc, "ratio-cpu")
		b.ReportMetric(lc/bc, "ratio-bundle-cpu")
		b.Logf("%d events, %d rules on both sides (%d of lachan's %d left out: sigma-go cannot parse or evaluate them)",
			len(evs), len(eng.Rules()), rs.excluded, rs.lachan)
		b.Logf("lachan %.0f events/s (%.0f per CPU-second), %d alerts in one pass", lw, lc, la)
		b.Logf("sigma-go per rule %.1f events/s (%.1f per CPU-second), %d matches; bundle %.1f events/s (%.1f per CPU-second), %d matches",
			sw, sc, sa, bw, bc, ba)
		b.Logf("ratio (CPU-seconds): %.0f× per-rule evaluators, %.0f× bundle", lc/sc, lc/bc)
	}
	if testing.Verbose() {
		fmt.Fprintln(os.Stderr)
	}
}
