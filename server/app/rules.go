package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"lachan/detections"
	"lachan/internal/bundle"
	"lachan/internal/event"
	"lachan/server/api"
	"lachan/server/content"
	"lachan/server/correlate"
	"lachan/server/detect"
	"lachan/server/indicator"
	"lachan/server/pipeline"
	"lachan/server/pki"
	"lachan/server/store"
	"lachan/server/unit"
)

// openUnits returns the unit registry with the units file, if any, applied.
func openUnits(ctx context.Context, file string, st store.Store, log *slog.Logger) (*unit.Registry, error) {
	units := unit.NewRegistry(st)
	if file == "" {
		return units, nil
	}
	specs, err := unit.LoadFile(file)
	if err != nil {
		return nil, err
	}
	if err := units.Apply(ctx, specs); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	log.Info("units applied", "file", file, "units", len(specs))
	return units, nil
}

// ruleSwitchRefresh is how often a replica reads the rules switched off,
// so that one switched on another replica applies here within it.
const ruleSwitchRefresh = 15 * time.Second

// ruleBundle signs the YARA rules agents are to use.
func ruleBundle(dir string, packs []content.Pack, ca *pki.Authority) (bundle.Signed, string, error) {
	fsys, root, err := yaraFS(dir, packs)
	if err != nil {
		return bundle.Signed{}, "", err
	}
	b, err := bundle.FromFS(fsys, root, ".yar", ".yara")
	if err != nil {
		return bundle.Signed{}, "", err
	}
	if b, err = b.With(osqueryFiles(packs)...); err != nil {
		return bundle.Signed{}, "", err
	}
	signed, err := bundle.Sign(b, ca.BundleSigner())
	if err != nil {
		return bundle.Signed{}, "", fmt.Errorf("sign rule bundle: %w", err)
	}
	return signed, b.Version, nil
}

// loadDetector compiles the rules; a broken rule file is reported (in the
// log and the rulebook) and the others are used.
func (s *Server) loadDetector(dir string, packs []content.Pack, dcfg detect.Config) (pipeline.Detector, []*detect.Rule, error) {
	log := s.log
	sources, err := detect.LoadLogSources(detections.FS, "logsources.yml")
	if err != nil {
		return nil, nil, fmt.Errorf("log sources: %w", err)
	}
	eng, errs := detect.LoadDirs(sigmaDirs(dir, packs), sources, dcfg)
	for _, e := range errs {
		log.Warn("rule skipped", "err", e)
	}
	for _, w := range eng.Warnings() {
		log.Debug("rule loaded with a warning", "warning", w)
	}
	log.Info("detection rules loaded", "rules", len(eng.Rules()), "skipped", len(errs))
	set := api.RuleSet{Name: "sigma", Rules: []api.RuleInfo{}}
	for _, r := range eng.Rules() {
		set.Rules = append(set.Rules, api.RuleInfo{ID: r.ID, Title: r.Title, Level: r.Level, Status: r.Status, File: r.File, Warnings: len(r.Warnings)})
	}
	set.Failed = errorTexts(errs)
	s.rulebook.Add(set)
	return pipeline.DetectorFunc(func(ev event.Event) []event.Event {
		var alerts []event.Event
		for _, m := range eng.Match(ev) {
			if !s.rulebook.Enabled("sigma", m.Rule.ID) {
				continue // switched off at run time
			}
			alerts = append(alerts, m.Alert(ev))
		}
		return alerts
	}), eng.Rules(), nil
}

// correlator loads the correlation rules of the detection directory,
// resumes their open windows from the store (the last checkpoint, then the
// events stored since it, run through det), feeds them from the pipeline
// and adds the correlator's checkpoints to the server's work.
func (s *Server) correlator(ctx context.Context, pl *pipeline.Pipeline, det pipeline.Detector, st store.Store, dirs []detect.RuleDir, known []*detect.Rule, ccfg correlate.Config) (*correlate.Correlator, error) {
	c, err := correlate.New(s.correlationSet(dirs, known), st, ccfg, s.log)
	if err != nil {
		return nil, err
	}
	if err := c.Restore(ctx); err != nil {
		return nil, err
	}
	if _, err := c.Replay(ctx, st, det.Detect); err != nil {
		return nil, err
	}
	pl.SetCorrelator(c)
	s.add("correlate", func(ctx context.Context) error { c.Run(ctx); return nil })
	return c, nil
}

// correlationSet loads the correlation rules of dirs against the
// detection rules known, and lists them in the rulebook.
func (s *Server) correlationSet(dirs []detect.RuleDir, known []*detect.Rule) *correlate.Set {
	set, errs := correlate.LoadDirs(dirs, known)
	for _, e := range errs {
		s.log.Warn("correlation rule skipped", "err", e)
	}
	s.log.Info("correlation rules loaded", "rules", set.Len(), "skipped", len(errs))
	book := api.RuleSet{Name: "correlation", Rules: []api.RuleInfo{}, Failed: errorTexts(errs)}
	for _, r := range set.Rules() {
		book.Rules = append(book.Rules, api.RuleInfo{ID: r.ID, Title: r.Title, Level: r.Level, Status: r.Status, File: r.File})
	}
	s.rulebook.Add(book)
	return set
}

// errorTexts are the load errors as people read them (file:line: why).
func errorTexts(errs []error) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// openIndicators loads the persisted indicator set.
func openIndicators(ctx context.Context, st store.Store, log *slog.Logger) (*indicator.Set, error) {
	set, err := indicator.NewSet(indicator.DefaultConfig(), st, log)
	if err != nil {
		return nil, err
	}
	if err := set.Load(ctx); err != nil {
		return nil, err
	}
	log.Info("indicators loaded", "indicators", set.Len())
	return set, nil
}

// withIndicators adds indicator matches to a detector's alerts, so that
// they are filed into incidents (and seen by correlation) like Sigma's.
func withIndicators(det pipeline.Detector, set *indicator.Set) pipeline.Detector {
	return pipeline.DetectorFunc(func(ev event.Event) []event.Event {
		return append(det.Detect(ev), set.Match(ev)...)
	})
}
