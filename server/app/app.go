package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"time"

	"lachan/internal/bundle"
	"lachan/internal/config"
	actions "lachan/server/action"
	"lachan/server/api"
	"lachan/server/audit"
	"lachan/server/console"
	"lachan/server/content"
	"lachan/server/correlate"
	"lachan/server/detect"
	"lachan/server/fleet"
	"lachan/server/forward"
	"lachan/server/incident"
	"lachan/server/live"
	"lachan/server/mask"
	"lachan/server/notify"
	"lachan/server/pipeline"
	"lachan/server/pki"
	"lachan/server/playbook"
	"lachan/server/report"
	"lachan/server/store"
	"lachan/server/system"
	"lachan/server/user"
)

// Config is what the server runs with. The command that reads the
// configuration file fills it and chooses where each file lives.
type Config struct {
	// PKIDir holds the CA and the server certificate.
	PKIDir string
	// TokenFile is where the first start writes the admin token.
	TokenFile string
	// SensorTokenFile is where the first start writes a sensor token, for
	// a sensor or capture import on the same machine; empty writes none.
	SensorTokenFile string
	// ForwardDir holds the forwarding key and the mask key.
	ForwardDir string
	// UnitsFile, when set, is applied to the unit tree at start.
	UnitsFile string
	// TelemetryPolicy, when set, is the telemetry policy file agents get
	// at check-in (server/telemetry).
	TelemetryPolicy string
	// Detections is a directory of Sigma rules; empty uses the built-in set.
	Detections string
	// YARARules is a directory of YARA rules for agents; empty sends the
	// built-in set.
	YARARules string
	// Content is the trusted content keys and the directory of installed
	// packs (Dir empty: none are loaded).
	Content content.Config
	// ContentYARA compiles the YARA files of a pack installed through the
	// API, as `lachan rules update` does; nil leaves them to the agents.
	ContentYARA func(fs.FS) []error
	API         api.Config
	Incident    incident.Config
	Live        live.Config
	Retention   store.RetentionConfig
	// Detect is the detection engine's settings (expand placeholders).
	Detect    detect.Config
	Correlate correlate.Config
	System    system.Config
	Forward   forward.Config
	Mask      mask.Config
	Users     user.Config
	Audit     audit.Config
	Report    report.Config
	Playbook  playbook.Config
	Notify    notify.Config
	Actions   actions.Config
	// Console is the web interface's pages.
	Console console.Config
}

// DefaultConfig is the defaults of every part; the directories are left
// for the caller.
func DefaultConfig() Config {
	return Config{
		API:       api.DefaultConfig(),
		Incident:  incident.DefaultConfig(),
		Live:      live.DefaultConfig(),
		Retention: store.DefaultRetention(),
		Detect:    detect.DefaultConfig(),
		Correlate: correlate.DefaultConfig(),
		System:    system.DefaultConfig(),
		Forward:   forward.DefaultConfig(),
		Mask:      mask.DefaultConfig(),
		Users:     user.DefaultConfig(),
		Audit:     audit.DefaultConfig(),
		Report:    report.DefaultConfig(),
		Playbook:  playbook.DefaultConfig(),
		Notify:    notify.DefaultConfig(),
		Actions:   actions.DefaultConfig(),
		Console:   console.DefaultConfig(),
	}
}

// Validate checks the directories are named and every part is valid.
func (c Config) Validate() error {
	var errs []error
	for name, dir := range map[string]string{"pki directory": c.PKIDir, "token file": c.TokenFile, "forward directory": c.ForwardDir} {
		if dir == "" {
			errs = append(errs, fmt.Errorf("app: %s must be set", name))
		}
	}
	errs = append(errs, config.Join(c.API, c.Incident, c.Live, c.Retention, c.Correlate, c.System, c.Forward, c.Mask, c.Users, c.Audit, c.Report, c.Playbook, c.Notify, c.Actions, c.Content))
	errs = append(errs, c.Console.Validate(), c.Detect.Validate())
	return errors.Join(errs...)
}

// worker is a part that runs until its context ends.
type worker struct {
	name string
	run  func(context.Context) error
}

// Server is the whole server, built and bound, ready to Run.
type Server struct {
	log     *slog.Logger
	ln      net.Listener
	api     *api.Server
	workers []worker
	// rulebook lists the rules loaded at start, for the API and console.
	rulebook api.Rulebook
	// pipeline and bundle are the ingest path and the agents' rule bundle
	// as built, for the tests of what the server loaded.
	pipeline *pipeline.Pipeline
	bundle   bundle.Signed
	// live is what a content change reloads (reload.go).
	live running
}

// New builds every part of the server over st and binds the API's
// listener. It starts no goroutine: an error here leaves nothing running
// (and the listener closed).
func New(ctx context.Context, cfg Config, st store.Store, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return nil, fmt.Errorf("api.listen: %w", err)
	}
	s := &Server{log: log, ln: ln}
	if err := s.build(ctx, cfg, st); err != nil {
		ln.Close()
		return nil, err
	}
	if err := s.mountConsole(cfg.Console, st); err != nil {
		ln.Close()
		return nil, err
	}
	return s, nil
}

// build makes the parts in the order they depend on each other.
func (s *Server) build(ctx context.Context, cfg Config, st store.Store) error {
	log := s.log
	s.add("retention", func(ctx context.Context) error {
		cfg.Retention.Run(ctx, st, time.Now, log.With("component", "retention"))
		return nil
	})
	ca, err := pki.LoadOrCreate(cfg.PKIDir, cfg.API.Hostnames)
	if err != nil {
		return err
	}
	trail, err := audit.Open(ctx, st, ca.AuditSigner(), nil)
	if err != nil {
		return err
	}
	s.add("audit checkpoints", func(ctx context.Context) error {
		return trail.RunCheckpoints(ctx, cfg.Audit.CheckpointInterval, log.With("component", "audit"))
	})
	units, err := openUnits(ctx, cfg.UnitsFile, st, log)
	if err != nil {
		return err
	}
	telPolicy, err := openTelemetryPolicy(ctx, cfg.TelemetryPolicy, units, log)
	if err != nil {
		return err
	}
	tokens := api.NewTokens(st, units)
	if err := tokens.EnsureAdmin(ctx, cfg.TokenFile); err != nil {
		return fmt.Errorf("operator token: %w", err)
	}
	if cfg.SensorTokenFile != "" {
		if err := tokens.Ensure(ctx, cfg.SensorTokenFile, api.Token{Name: "sensor", Role: api.RoleSensor}); err != nil {
			return fmt.Errorf("sensor token: %w", err)
		}
	}
	packs, err := s.contentPacks(ctx, cfg.Content, trail)
	if err != nil {
		return err
	}
	det, known, err := s.loadDetector(cfg.Detections, packs, cfg.Detect)
	if err != nil {
		return err
	}
	// Rules switched off at run time, by this replica or another.
	if err := s.rulebook.Refresh(ctx, st); err != nil {
		return err
	}
	s.add("rule switches", func(ctx context.Context) error {
		s.rulebook.RefreshEvery(ctx, st, ruleSwitchRefresh, func(err error) { log.Warn("rule switches", "err", err) })
		return nil
	})
	signed, version, err := ruleBundle(cfg.YARARules, packs, ca)
	if err != nil {
		return err
	}
	log.Info("rule bundle ready", "version", version)
	s.bundle = signed
	fl := fleet.New(st, nil).WithNetworks(units)
	if err := fl.EnsureIndex(ctx); err != nil {
		return err
	}
	inc := incident.NewManager(st, cfg.Incident, nil)
	users := user.New(cfg.Users, st, nil)
	inc.UserExists = users.Exists
	inc.OnChange = incidentChanges(trail, log)
	if err := inc.EnsureIndex(ctx); err != nil {
		return err
	}
	link := &upstreamLink{}
	systems, coverage, err := s.fourLayers(ctx, cfg, st, units, fl, inc, link, trail)
	if err != nil {
		return err
	}
	inds, err := openIndicators(ctx, st, log)
	if err != nil {
		return err
	}
	detector := withIndicators(det, inds)
	pl := pipeline.New(st, fl, inc, detector, log)
	s.pipeline = pl
	corr, err := s.correlator(ctx, pl, detector, st, sigmaDirs(cfg.Detections, packs), known, cfg.Correlate)
	if err != nil {
		return err
	}
	s.live = running{cfg: cfg, trail: trail, ca: ca, pl: pl, corr: corr, inds: inds, report: reportBundle(signed, version, known)}
	fwd, err := s.forward(cfg, st, units, inc, inds, upstreamPolicy(systems, coverage.Policies(), log))
	if err != nil {
		return err
	}
	link.set(fwd.Outbox)
	reports := s.reports(cfg, st, ca, systems, coverage, units, fl, inc)
	acts, err := s.actions(cfg, st, fl, systems, trail, inc)
	if err != nil {
		return err
	}
	var pbDeps api.Deps
	if err := s.playbooks(cfg, st, inc, systems, acts, &pbDeps); err != nil {
		return err
	}
	s.api = api.New(cfg.API, api.Deps{
		Systems: systems, Coverage: coverage, Forward: fwd,
		Store: st, Units: units, Fleet: fl, Incidents: inc, PKI: ca, Tokens: tokens, Log: log,
		Rules: signed, RulesVersion: version, Live: live.New(st, fl, cfg.Live, nil),
		Pipeline: pl, Indicators: inds, Users: users, Trail: trail, Audit: auditor{trail},
		Reports:   reports,
		Playbooks: pbDeps.Playbooks, Notifications: pbDeps.Notifications,
		Actions:   acts,
		Telemetry: telPolicy,
	})
	s.api.SetContent(s)
	return nil
}

func (s *Server) add(name string, run func(context.Context) error) {
	s.workers = append(s.workers, worker{name: name, run: run})
}

// Addr is the address the API listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends or a part fails. At the end of ctx the API
// shuts down first, letting requests in flight finish, and only then are
// the other parts told to stop, so that nothing feeds a correlator that
// has written its last checkpoint; Run returns nil. A part that fails
// stops the server the same way and Run returns its error.
func (s *Server) Run(ctx context.Context) error {
	g := newGroup(ctx)
	// The parts behind the API outlive it: they stop once it has drained.
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	for _, w := range s.workers {
		g.Go(w.name, func() error {
			err := w.run(wctx)
			if wctx.Err() != nil {
				if errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			}
			if err == nil {
				err = errors.New("stopped before the server")
			}
			return err
		})
	}
	g.Go("api", func() error {
		defer stopWorkers()
		return s.api.ServeListener(g.ctx, s.ln)
	})
	err := g.Wait()
	if err != nil {
		s.log.Error("server stopped", "err", err)
	} else {
		s.log.Info("server stopped")
	}
	return err
}
