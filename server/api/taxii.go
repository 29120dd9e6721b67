package api

import (
	"errors"
	"net/http"
	"strings"

	"lachan/internal/wire"
	"lachan/server/forward"
	"lachan/server/mask"
	"lachan/server/store"
	"lachan/server/user"
)

// Operator paths of the national connection.
const (
	PathForwardOutbox     = "/api/v1/forward/outbox"
	PathForwardAttempts   = "/api/v1/forward/attempts"
	PathForwardReidentify = "/api/v1/forward/reidentify"
)

// ForwardDeps serve the national connection; nil parts answer 404 or 503.
type ForwardDeps struct {
	// TAXII is the upper tier's TAXII 2.1 server (forward.Receiver).
	TAXII http.Handler
	// Outbox is the forwarding outbox, Tokens the re-identification table.
	Outbox *forward.Outbox
	Tokens mask.Table
	// Masker masks event fields for callers without PermPersonalData;
	// nil shows them no evidence at all.
	Masker *mask.Masker
}

// forwardRoutes mounts /taxii2/ and the operator endpoints of the outbox.
func (s *Server) forwardRoutes(mux *http.ServeMux) {
	s.open(mux, "/taxii2/", "taxii", s.taxii)
	s.route(mux, "GET "+PathForwardOutbox, PermForwardRead, s.forwardOutbox)
	s.route(mux, "GET "+PathForwardAttempts, PermForwardRead, s.forwardAttempts)
	s.route(mux, "GET "+PathForwardReidentify+"/{token}", PermReidentify, s.reidentify)
}

// taxii authenticates operators by token and leaves senders (client
// certificate or sender token) to the receiver, which knows them.
func (s *Server) taxii(w http.ResponseWriter, r *http.Request) {
	if s.d.Forward.TAXII == nil {
		writeError(w, http.StatusNotFound, wire.Error{Error: "this server is not an upper tier: no forward.receive.senders configured"})
		return
	}
	if secret, ok := bearer(r); ok && (strings.HasPrefix(secret, tokenPrefix) || strings.HasPrefix(secret, user.SessionPrefix)) {
		p, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if !p.can(PermTAXII) {
			s.deny(w, r, p, PermTAXII)
			return
		}
		r = r.WithContext(forward.WithOperator(r.Context(), forward.Operator{Name: p.Name, Role: p.Role}))
	}
	s.d.Forward.TAXII.ServeHTTP(w, r)
}

// outbox returns the forwarding outbox, or answers why not and returns
// nil.
func (s *Server) outbox(w http.ResponseWriter) *forward.Outbox {
	if s.d.Forward.Outbox == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "forwarding is off: set forward.upstream.url"})
		return nil
	}
	return s.d.Forward.Outbox
}

func (s *Server) forwardOutbox(w http.ResponseWriter, r *http.Request, p Principal) {
	out := s.outbox(w)
	if out == nil {
		return
	}
	es, err := out.Entries(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i := range es {
		es[i].Bundle = nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": es})
}

func (s *Server) forwardAttempts(w http.ResponseWriter, r *http.Request, p Principal) {
	out := s.outbox(w)
	if out == nil {
		return
	}
	as, err := out.Attempts(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"attempts": as})
}

// reidentify names the value behind a pseudonym: administrators only, and
// logged with who asked.
func (s *Server) reidentify(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.d.Forward.Tokens == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "no re-identification table"})
		return
	}
	tok := r.PathValue("token")
	e, err := s.d.Forward.Tokens.Lookup(r.Context(), tok)
	s.audit(r, p, "forward.reidentify", tok, outcome(err), map[string]any{"type": e.Type})
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, wire.Error{Error: "token " + tok + " was not handed out by this server"})
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error()})
		return
	}
	s.log.Warn("pseudonym re-identified", "by", p.Name, "token", tok, "type", e.Type)
	writeJSON(w, http.StatusOK, e)
}
