package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"lachan/internal/bundle"
	"lachan/internal/wire"
	"lachan/server/audit"
	"lachan/server/content"
)

// Content packs are installed, rolled back and listed through the API by
// an admin; the server verifies a pack as `lachan rules update` does and
// loads it without a restart (ContentManager).
const (
	PathContent         = "/api/v1/content"
	PathContentRollback = "/api/v1/content/rollback"
)

// MaxContentUpload bounds the body of POST PathContent. A larger pack is
// installed on the server's machine with `lachan rules update FILE`.
const MaxContentUpload = 128 << 20

// ContentManager installs and rolls back content packs in the running
// server. The caller's role and address are in ctx (audit.CallerFrom);
// the change goes to the audit trail with them.
type ContentManager interface {
	// Install verifies, checks and installs the pack read from r and loads
	// it; a pack refused matches content.ErrRefused and changes nothing.
	Install(ctx context.Context, r io.Reader, actor string) (ContentResult, error)
	// Rollback makes the version of name before the active one active
	// again and loads it; an unknown name matches content.ErrNotInstalled.
	Rollback(ctx context.Context, name, actor string) (ContentResult, error)
	// List is every installed version, checked against the trusted keys.
	List() ([]ContentPack, error)
}

// ContentResult is the answer of an install or rollback.
type ContentResult struct {
	Change   content.Change `json:"change"`
	Warnings []string       `json:"warnings,omitempty"`
	// Sigma, Correlations, YARA and Osquery count what of the pack passed
	// its checks (install only).
	Sigma        int `json:"sigma,omitempty"`
	Correlations int `json:"correlations,omitempty"`
	YARA         int `json:"yara,omitempty"`
	Osquery      int `json:"osquery,omitempty"`
	// RulesVersion is the agents' rule bundle after the change.
	RulesVersion string `json:"rules_version"`
}

// ContentPack is one installed version of a pack (GET PathContent, and
// `lachan rules list --json`).
type ContentPack struct {
	Name    string         `json:"name"`
	Version string         `json:"version"`
	Active  bool           `json:"active"`
	Created time.Time      `json:"created,omitzero"`
	Key     string         `json:"key,omitempty"`
	Parts   []content.Part `json:"parts,omitempty"`
	Problem string         `json:"problem,omitempty"`
}

// ContentRollback is the body of POST PathContentRollback.
type ContentRollback struct {
	Name string `json:"name"`
}

// ContentList is the answer of GET PathContent.
type ContentList struct {
	Packs []ContentPack `json:"packs"`
}

// SetContent names what installs content packs; call it before Serve.
// Without it the content routes answer 503.
func (s *Server) SetContent(m ContentManager) { s.content = m }

// ruleBundle is the signed bundle agents fetch and its version.
type ruleBundle struct {
	signed  bundle.Signed
	version string
}

// SetRules replaces the agents' rule bundle: the next check-in announces
// its version and agents fetch it.
func (s *Server) SetRules(signed bundle.Signed, version string) {
	s.bundle.Store(&ruleBundle{signed: signed, version: version})
}

// RulesVersion is the version of the agents' rule bundle in use.
func (s *Server) RulesVersion() string { return s.rulesNow().version }

// rulesNow is the bundle in use: the last set, else the one built at start.
func (s *Server) rulesNow() ruleBundle {
	if b := s.bundle.Load(); b != nil {
		return *b
	}
	return ruleBundle{signed: s.d.Rules, version: s.d.RulesVersion}
}

func (s *Server) contentRoutes(mux *http.ServeMux) {
	s.route(mux, "GET "+PathContent, PermContentManage, s.listContent)
	s.route(mux, "POST "+PathContent, PermContentManage, s.installContent)
	s.route(mux, "POST "+PathContentRollback, PermContentManage, s.rollbackContent)
}

func (s *Server) contentManager(w http.ResponseWriter) ContentManager {
	if s.content == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "content packs are not configured on this server"})
	}
	return s.content
}

func (s *Server) listContent(w http.ResponseWriter, r *http.Request, _ Principal) {
	m := s.contentManager(w)
	if m == nil {
		return
	}
	list, err := m.List()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []ContentPack{}
	}
	writeJSON(w, http.StatusOK, ContentList{Packs: list})
}

// installContent takes a pack file as the body. It is read whole first,
// so that a pack over MaxContentUpload is refused before any of it is
// decoded.
func (s *Server) installContent(w http.ResponseWriter, r *http.Request, p Principal) {
	m := s.contentManager(w)
	if m == nil {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxContentUpload))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		msg := fmt.Sprintf("content pack larger than %d MiB: install it on the server's machine with lachan rules update FILE", MaxContentUpload>>20)
		s.audit(r, p, content.ActionInstall, "", audit.OutcomeFailure, map[string]any{"error": msg})
		writeError(w, http.StatusRequestEntityTooLarge, wire.Error{Error: msg})
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.Error{Error: "reading the pack: " + err.Error()})
		return
	}
	res, err := m.Install(s.auditCaller(r, p), bytes.NewReader(body), p.Name)
	if err != nil {
		s.contentFailed(w, r, p, content.ActionInstall, "", err)
		return
	}
	s.log.Info("content pack installed", "pack", res.Change.Name, "version", res.Change.Version, "by", p.Name)
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) rollbackContent(w http.ResponseWriter, r *http.Request, p Principal) {
	m := s.contentManager(w)
	if m == nil {
		return
	}
	var req ContentRollback
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := m.Rollback(s.auditCaller(r, p), req.Name, p.Name)
	if err != nil {
		s.contentFailed(w, r, p, content.ActionRollback, req.Name, err)
		return
	}
	s.log.Info("content pack rolled back", "pack", res.Change.Name, "version", res.Change.Version, "by", p.Name)
	writeJSON(w, http.StatusOK, res)
}

// contentFailed audits a refused or failed change (a change made is
// audited by the ContentManager, from the directory's change log) and
// answers why: 422 for a pack refused, 404 for a pack not installed.
func (s *Server) contentFailed(w http.ResponseWriter, r *http.Request, p Principal, action, object string, err error) {
	s.audit(r, p, action, object, audit.OutcomeFailure, map[string]any{"error": err.Error()})
	switch {
	case errors.Is(err, content.ErrRefused):
		writeError(w, http.StatusUnprocessableEntity, wire.Error{Error: err.Error()})
	case errors.Is(err, content.ErrNotInstalled):
		writeError(w, http.StatusNotFound, wire.Error{Error: err.Error()})
	default:
		s.fail(w, r, err)
	}
}
