package app

import (
	"context"
	"fmt"
	"io"
	"sync"

	"lachan/detections"
	"lachan/server/api"
	"lachan/server/audit"
	"lachan/server/content"
	"lachan/server/correlate"
	"lachan/server/detect"
	"lachan/server/indicator"
	"lachan/server/pipeline"
	"lachan/server/pki"
	"lachan/server/report"
)

// running is what a content change replaces in the running server, and what
// it needs to build the replacement.
type running struct {
	// mu makes content changes and reloads one at a time.
	mu    sync.Mutex
	cfg   Config
	trail *audit.Trail
	ca    *pki.Authority
	pl    *pipeline.Pipeline
	corr  *correlate.Correlator
	inds  *indicator.Set
	// report is the bundle the auditors' reports describe.
	report report.Bundle
	rmu    sync.Mutex
}

var _ api.ContentManager = (*Server)(nil)

// Reload loads the content again — the Sigma and correlation rules of
// the built-in set (or detections) and the active packs, and the agents'
// bundle — and swaps it in between two batches of the pipeline
// (pipeline.Reload): the open windows of correlation rules that stay go
// on, and agents fetch the new bundle at their next check-in. The changes
// of the content directory not yet audited (a local `lachan rules update`)
// go to the audit trail first. A rule that does not load is skipped and
// reported, as at start; an error leaves the content in use as it was.
func (s *Server) Reload(ctx context.Context) error {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	return s.reload(ctx)
}

func (s *Server) reload(ctx context.Context) error {
	l := &s.live
	cc := l.cfg.Content
	cc.DefaultPack = "" // installed at start only
	packs, err := s.contentPacks(ctx, cc, l.trail)
	if err != nil {
		return fmt.Errorf("reload content: %w", err)
	}
	signed, version, err := ruleBundle(l.cfg.YARARules, packs, l.ca)
	if err != nil {
		return fmt.Errorf("reload content: %w", err)
	}
	det, known, err := s.loadDetector(l.cfg.Detections, packs, l.cfg.Detect)
	if err != nil {
		return fmt.Errorf("reload content: %w", err)
	}
	set := s.correlationSet(sigmaDirs(l.cfg.Detections, packs), known)
	var kept, dropped int
	l.pl.Reload(withIndicators(det, l.inds), func() { kept, dropped = l.corr.Swap(set) })
	s.api.SetRules(signed, version)
	l.rmu.Lock()
	l.report = reportBundle(signed, version, known)
	l.rmu.Unlock()
	s.log.Info("content reloaded", "packs", len(packs), "sigma", len(known), "correlation", set.Len(),
		"correlation_kept", kept, "correlation_keys_dropped", dropped, "rules_version", version)
	return nil
}

// reportBundle is the content the auditors' reports describe.
func (s *Server) reportBundle() report.Bundle {
	s.live.rmu.Lock()
	defer s.live.rmu.Unlock()
	return s.live.report
}

func (s *Server) contentDir(ctx context.Context) content.Dir {
	c := audit.CallerFrom(ctx)
	return content.Dir{Path: s.live.cfg.Content.Dir, Role: c.Role, Source: c.Source}
}

// Install verifies a pack against the trusted keys and checks every rule
// in it exactly as `lachan rules update` does, installs it and reloads.
// The change is audited from the directory's change log with the caller
// ctx carries, so that a crash between install and audit records it at
// the next start instead.
func (s *Server) Install(ctx context.Context, r io.Reader, actor string) (api.ContentResult, error) {
	if s.live.cfg.Content.Dir == "" {
		return api.ContentResult{}, fmt.Errorf("%w: no content directory configured", content.ErrRefused)
	}
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	chk, err := s.checker()
	if err != nil {
		return api.ContentResult{}, err
	}
	ch, rep, err := s.contentDir(ctx).Update(r, s.live.cfg.Content.Keys(), chk, actor)
	if err != nil {
		return api.ContentResult{}, err
	}
	res := api.ContentResult{Change: ch, Warnings: rep.Warnings, Sigma: rep.Sigma, Correlations: rep.Correlations, YARA: rep.YARA, Osquery: rep.Osquery}
	// The caller going away must not leave the change unloaded.
	if err := s.reload(context.WithoutCancel(ctx)); err != nil {
		return res, fmt.Errorf("%s %s installed, but not loaded until the next start: %w", ch.Name, ch.Version, err)
	}
	res.RulesVersion = s.api.RulesVersion()
	return res, nil
}

// Rollback makes the version before the active one of a pack active
// again and reloads.
func (s *Server) Rollback(ctx context.Context, name, actor string) (api.ContentResult, error) {
	if s.live.cfg.Content.Dir == "" {
		return api.ContentResult{}, content.ErrNotInstalled
	}
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	ch, err := s.contentDir(ctx).Rollback(name, actor)
	if err != nil {
		return api.ContentResult{}, err
	}
	if err := s.reload(context.WithoutCancel(ctx)); err != nil {
		return api.ContentResult{Change: ch}, fmt.Errorf("%s %s active again, but not loaded until the next start: %w", ch.Name, ch.Version, err)
	}
	return api.ContentResult{Change: ch, RulesVersion: s.api.RulesVersion()}, nil
}

// List is every installed version of every pack.
func (s *Server) List() ([]api.ContentPack, error) {
	if s.live.cfg.Content.Dir == "" {
		return nil, nil
	}
	list, err := content.Dir{Path: s.live.cfg.Content.Dir}.List(s.live.cfg.Content.Keys())
	out := make([]api.ContentPack, 0, len(list))
	for _, i := range list {
		out = append(out, PackInfo(i))
	}
	return out, err
}

// PackInfo is an installed version as the API and `rules list` show it:
// the licence texts are left in the pack file.
func PackInfo(i content.Installed) api.ContentPack {
	parts := make([]content.Part, 0, len(i.Manifest.Parts))
	for _, p := range i.Manifest.Parts {
		p.Licence = ""
		parts = append(parts, p)
	}
	return api.ContentPack{Name: i.Manifest.Name, Version: i.Manifest.Version, Active: i.Active, Created: i.Manifest.Created,
		Key: i.Key, Parts: parts, Problem: i.Problem}
}

// checker is the one `lachan rules update` uses: the shipped log sources,
// yarac where the command found it, and the rules the server loads
// besides the packs, which a pack's correlation rules may name.
func (s *Server) checker() (content.Checker, error) {
	sources, err := detect.LoadLogSources(detections.FS, detections.LogSourcesFile)
	if err != nil {
		return content.Checker{}, fmt.Errorf("log sources: %w", err)
	}
	eng, _ := detect.LoadDirs(sigmaDirs(s.live.cfg.Detections, nil), sources, detect.DefaultConfig())
	return content.Checker{LogSources: sources, YARA: s.live.cfg.ContentYARA, Known: eng.Rules()}, nil
}
