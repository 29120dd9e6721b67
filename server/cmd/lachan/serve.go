package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"lachan/detections"
	"lachan/internal/bundle"
	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/rules"
	"lachan/server/api"
	"lachan/server/correlate"
	"lachan/server/detect"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/live"
	"lachan/server/pipeline"
	"lachan/server/pki"
	"lachan/server/store"
	"lachan/server/unit"
)

func serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the server: agent API, ingest, detection, incidents, REST API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, logging.New(cfg.Log, os.Stderr))
		},
	}
}

func serve(ctx context.Context, cfg *Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := cfg.openStore(ctx, log.With("component", "store"))
	if err != nil {
		return err
	}
	defer st.Close()
	go cfg.Store.Retention.Run(ctx, st, time.Now, log.With("component", "retention"))
	ca, err := pki.LoadOrCreate(cfg.pkiDir(), cfg.API.Hostnames)
	if err != nil {
		return err
	}
	units := unit.NewRegistry(st)
	if cfg.UnitsFile != "" {
		specs, err := unit.LoadFile(cfg.UnitsFile)
		if err != nil {
			return err
		}
		if err := units.Apply(ctx, specs); err != nil {
			return err
		}
		log.Info("units applied", "file", cfg.UnitsFile, "units", len(specs))
	}
	tokens := api.NewTokens(st, units)
	if err := tokens.EnsureAdmin(ctx, cfg.tokenFile()); err != nil {
		return fmt.Errorf("operator token: %w", err)
	}
	det, known, err := loadDetector(cfg.Detections, log)
	if err != nil {
		return err
	}
	signed, version, err := ruleBundle(cfg.YARARules, ca)
	if err != nil {
		return err
	}
	log.Info("rule bundle ready", "version", version)
	fl := fleet.New(st, nil)
	inc := incident.NewManager(st, cfg.Incident, nil)
	link := &upstreamLink{}
	systems, coverage, err := fourLayers(ctx, cfg, st, units, fl, inc, link, log)
	if err != nil {
		return err
	}
	inds, err := openIndicators(ctx, st, log)
	if err != nil {
		return err
	}
	detector := withIndicators(det, inds)
	pl := pipeline.New(st, fl, inc, detector, log)
	corrDone, err := startCorrelator(ctx, pl, detector, st, cfg.Detections, known, cfg.Correlate, log)
	if err != nil {
		return err
	}
	defer func() { <-corrDone }() // its last checkpoint, before the store closes
	fwd, stopForward, err := startForward(ctx, cfg, st, units, inc, inds, upstreamPolicy(systems, coverage.Policies(), log), log)
	if err != nil {
		return err
	}
	link.set(fwd.Outbox)
	defer stopForward() // before the store closes
	srv := api.New(cfg.API, api.Deps{
		Systems: systems, Coverage: coverage, Forward: fwd,
		Store: st, Units: units, Fleet: fl, Incidents: inc, PKI: ca, Tokens: tokens, Log: log,
		Rules: signed, RulesVersion: version, Live: live.New(st, fl, cfg.Live, nil),
		Pipeline: pl, Indicators: inds,
	})
	log.Info("starting", "data_dir", cfg.DataDir, "operator_token_file", cfg.tokenFile())
	return srv.Serve(ctx)
}

// ruleBundle signs the YARA rules agents are to use.
func ruleBundle(dir string, ca *pki.Authority) (bundle.Signed, string, error) {
	var fsys fs.FS = rules.FS
	root := "yara"
	if dir != "" {
		fsys, root = os.DirFS(dir), "."
	}
	b, err := bundle.FromFS(fsys, root, ".yar", ".yara")
	if err != nil {
		return bundle.Signed{}, "", err
	}
	signed, err := bundle.Sign(b, ca.BundleSigner())
	if err != nil {
		return bundle.Signed{}, "", fmt.Errorf("sign rule bundle: %w", err)
	}
	return signed, b.Version, nil
}

// loadDetector compiles the rules; a broken rule file is reported and the
// others are used.
func loadDetector(dir string, log *slog.Logger) (pipeline.Detector, []*detect.Rule, error) {
	var fsys fs.FS = detections.FS
	if dir != "" {
		fsys = os.DirFS(dir)
	}
	sources, err := detect.LoadLogSources(detections.FS, "logsources.yml")
	if err != nil {
		return nil, nil, fmt.Errorf("log sources: %w", err)
	}
	eng, errs := detect.Load(fsys, ".", sources)
	for _, e := range errs {
		log.Warn("rule skipped", "err", e)
	}
	log.Info("detection rules loaded", "rules", len(eng.Rules()), "skipped", len(errs))
	return pipeline.DetectorFunc(func(ev event.Event) []event.Event {
		var alerts []event.Event
		for _, m := range eng.Match(ev) {
			alerts = append(alerts, m.Alert(ev))
		}
		return alerts
	}), eng.Rules(), nil
}

// startCorrelator loads the correlation rules of the detection directory,
// resumes their open windows from the store (the last checkpoint, then
// the events stored since it, run through det) and feeds them from the
// pipeline; the returned channel closes after the last checkpoint once ctx
// ends.
func startCorrelator(ctx context.Context, pl *pipeline.Pipeline, det pipeline.Detector, st store.Store, dir string, known []*detect.Rule, ccfg correlate.Config, log *slog.Logger) (<-chan struct{}, error) {
	rd := detect.RuleDir{FS: detections.FS, Root: "."}
	if dir != "" {
		rd = detect.RuleDir{FS: os.DirFS(dir), Root: ".", Name: dir}
	}
	set, errs := correlate.LoadDirs([]detect.RuleDir{rd}, known)
	for _, e := range errs {
		log.Warn("correlation rule skipped", "err", e)
	}
	log.Info("correlation rules loaded", "rules", set.Len(), "skipped", len(errs))
	c, err := correlate.New(set, st, ccfg, log)
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
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	return done, nil
}
