package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"lachan/internal/bundle"
	"lachan/internal/wire"
	actions "lachan/server/action"
	"lachan/server/audit"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/indicator"
	"lachan/server/live"
	"lachan/server/pipeline"
	"lachan/server/pki"
	"lachan/server/report"
	"lachan/server/store"
	"lachan/server/system"
	"lachan/server/telemetry"
	"lachan/server/unit"
	"lachan/server/user"
)

// Config is the API's listener and limits.
type Config struct {
	// Listen is the TCP address of the HTTPS listener.
	Listen string `mapstructure:"listen"`
	// Hostnames are the names and addresses the server certificate covers.
	Hostnames []string `mapstructure:"hostnames"`
	// CheckInInterval is how often agents are told to check in.
	CheckInInterval time.Duration `mapstructure:"checkin_interval"`
	// Enroll bounds enrollment.
	Enroll EnrollConfig `mapstructure:"enroll"`
	// QueryTimeout bounds one search or aggregation, waiting included.
	QueryTimeout time.Duration `mapstructure:"query_timeout"`
	// QueriesPerCaller is how many queries one token may run at once.
	QueriesPerCaller int `mapstructure:"queries_per_caller"`
	// QueryWorkers is how many queries run at once on the whole server;
	// 0 is half the cores, rounded up (DefaultQueryWorkers).
	QueryWorkers int `mapstructure:"query_workers"`
	// Ingest bounds the agents' batches held at once (ingestgate.go).
	Ingest IngestConfig `mapstructure:"ingest"`
}

// DefaultConfig listens on loopback only; a deployment names its address.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:8443", Hostnames: []string{"localhost", "127.0.0.1", "::1"}, CheckInInterval: time.Minute,
		Enroll: DefaultEnrollConfig(), QueryTimeout: 30 * time.Second, QueriesPerCaller: 2, Ingest: DefaultIngestConfig()}
}

// Validate checks the listener address and the query limits.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("api.listen %q: %w", c.Listen, err)
	}
	if len(c.Hostnames) == 0 {
		return errors.New("api.hostnames: at least one name or address is needed")
	}
	if c.CheckInInterval < time.Second {
		return errors.New("api.checkin_interval: at least 1s")
	}
	if c.QueryTimeout < time.Second {
		return fmt.Errorf("api.query_timeout %s: at least 1s", c.QueryTimeout)
	}
	if c.QueriesPerCaller < 1 {
		return fmt.Errorf("api.queries_per_caller %d: at least 1", c.QueriesPerCaller)
	}
	if c.QueryWorkers < 0 {
		return fmt.Errorf("api.query_workers %d: 0 (half the cores) or more", c.QueryWorkers)
	}
	if err := c.Ingest.Validate(); err != nil {
		return err
	}
	return c.Enroll.Validate()
}

// Deps are what the API serves from.
type Deps struct {
	Store     store.Store
	Units     *unit.Registry
	Fleet     *fleet.Fleet
	Incidents *incident.Manager
	Live      *live.Manager
	Pipeline  *pipeline.Pipeline
	PKI       *pki.Authority
	Tokens    *Tokens
	// Rulebook lists the detection rules loaded at start (PathRulebook);
	// nil lists none.
	Rulebook *Rulebook
	// Rules is the signed YARA rule bundle agents fetch; RulesVersion its
	// version, announced at every check-in.
	Rules        bundle.Signed
	RulesVersion string
	Log          *slog.Logger
	// Systems and Coverage serve the four-layer model; nil answers 503.
	Systems  *system.Registry
	Coverage *system.Coverage
	// Forward serves /taxii2/ (an upper tier) and the outbox endpoints.
	Forward ForwardDeps
	// Indicators are matched on ingest and served at PathIndicators; nil
	// answers 503.
	Indicators *indicator.Set
	// Users keeps people's accounts and sessions; nil turns logins off.
	Users *user.Manager
	// Audit records operators' actions; nil records nothing. Trail serves
	// the audit trail at PathAudit; nil answers 503.
	Audit Auditor
	Trail *audit.Trail
	// Reports makes the auditors' reports; nil answers 503.
	Reports *report.Builder
	// Playbooks and Notifications serve playbook runs and the notification
	// queue; nil answers 503.
	Playbooks     PlaybookRuns
	Notifications Notifications
	// Actions keeps response actions; nil answers 503.
	Actions *actions.Service
	// Telemetry is the telemetry policy sent at check-in; nil sends none.
	Telemetry *telemetry.Policies
}

// Server is the HTTPS server.
type Server struct {
	cfg          Config
	enrollLimits *enrollLimits
	d            Deps
	log          *slog.Logger
	http         *http.Server
	// queries bounds the searches and aggregations.
	queries *queryGate
	// ingestGate bounds the agents' batches held at once.
	ingestGate *ingestGate
	// table is every route with what it needs (perm.go).
	table []Route
	// content installs content packs; bundle is the agents' rule bundle
	// once a content change replaced the one in Deps (content.go).
	content ContentManager
	bundle  atomic.Pointer[ruleBundle]
}

// IdleTimeout ends a connection that has carried no request for this
// long. Agents end theirs sooner (agent/client.IdleConnTimeout), keeping
// it only while they ship; a client that keeps a connection open for
// nothing costs the server its TLS state, HTTP/2 tables and two
// goroutines (about 65 KB of its memory a connection, test/load
// -idle-agents), so the server does not wait minutes for it.
const IdleTimeout = 30 * time.Second

// New builds a server; Serve starts it.
func New(cfg Config, d Deps) *Server {
	s := &Server{cfg: cfg, d: d, log: d.Log.With("component", "api"), enrollLimits: newEnrollLimits(cfg.Enroll, nil),
		queries: newQueryGate(cfg), ingestGate: newIngestGate(cfg.Ingest)}
	s.http = &http.Server{
		Handler:           s.routes(),
		TLSConfig:         d.PKI.ServerTLS(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.Log.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the routes, for tests that serve them themselves.
func (s *Server) Handler() http.Handler { return s.http.Handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.open(mux, "GET "+wire.PathHealth, "public", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.open(mux, "POST "+wire.PathEnroll, "public", s.enroll)
	s.open(mux, "GET "+wire.PathCA, "public", s.caCert)
	s.open(mux, "POST "+wire.PathCheckIn, "agent", s.agentOnly(s.checkIn))
	s.open(mux, "POST "+wire.PathIngest, "agent", s.agentOnly(s.ingest))
	s.open(mux, "GET "+wire.PathRules, "agent", s.agentOnly(s.rules))
	s.open(mux, "POST "+wire.PathRenew, "agent", s.agentOnly(s.renew))
	s.playbookRoutes(mux)
	s.route(mux, "GET "+wire.PathAgents, PermAgentsRead, s.listAgents)
	s.route(mux, "GET "+wire.PathEvents, PermEventsRead, s.listEvents)
	s.route(mux, "GET "+wire.PathAlerts, PermEventsRead, s.listAlerts)
	s.route(mux, "GET "+wire.PathIncidents, PermIncidentsRead, s.listIncidents)
	s.route(mux, "GET "+wire.PathIncidents+"/{id}", PermIncidentsRead, s.showIncident)
	s.route(mux, "GET "+PathIncidentSummary, PermIncidentsRead, s.incidentSummary)
	s.route(mux, "GET "+wire.PathUnits, PermUnitsRead, s.listUnits)
	s.route(mux, "PUT "+wire.PathUnits+"/{id}", PermUnitsAdmin, s.putUnit)
	s.route(mux, "POST "+wire.PathNetworkIngest, PermNetworkIngest, s.networkIngest)
	s.route(mux, "POST "+wire.PathImport, PermImport, s.importEvents)
	s.route(mux, "POST "+wire.PathLive, PermLive, s.startLive)
	s.route(mux, "GET "+wire.PathLive+"/{id}", PermLive, s.liveReport)
	s.route(mux, "PUT "+wire.PathAgents+"/{id}/labels", PermAgentsLabel, s.putAgentLabels)
	s.accountRoutes(mux)
	s.rulebookRoutes(mux)
	s.agentAdminRoutes(mux)
	s.systemRoutes(mux)
	s.storeRoutes(mux)
	s.forwardRoutes(mux)
	s.indicatorRoutes(mux)
	s.auditRoutes(mux)
	s.reportRoutes(mux)
	s.actionRoutes(mux)
	s.contentRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, wire.Error{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return s.checkPathIDs(mux)
}

// Serve listens and serves until ctx ends, then shuts down gracefully,
// letting requests in flight finish.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln (which it closes) until ctx ends.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	s.log.Info("serving", "address", ln.Addr().String(), "ca_sha256", s.d.PKI.Fingerprint())
	errc := make(chan error, 1)
	go func() { errc <- s.http.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := s.http.Shutdown(shutCtx)
	// Shutdown closes only the listeners Serve has taken up; when the
	// context ends before the serving goroutine got that far, the listener
	// is still open. Close it, and wait for Serve, so the address is free
	// once this returns.
	ln.Close()
	<-errc
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
