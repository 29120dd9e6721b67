package api

import (
	"errors"
	"net/http"
	"strings"

	"lachan/internal/wire"
	"lachan/server/forward"
	"lachan/server/mask"
	"lachan/server/store"
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
}

// forwardRoutes mounts /taxii2/ and the operator endpoints of the outbox.
func (s *Server) forwardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/taxii2/", s.taxii)
	mux.HandleFunc("GET "+PathForwardOutbox, s.operator(s.forwardOutbox))
	mux.HandleFunc("GET "+PathForwardAttempts, s.operator(s.forwardAttempts))
	mux.HandleFunc("GET "+PathForwardReidentify+"/{token}", s.operator(s.reidentify))
}

// taxii authenticates operators by token and leaves senders (client
// certificate or sender token) to the receiver, which knows them.
func (s *Server) taxii(w http.ResponseWriter, r *http.Request) {
	if s.d.Forward.TAXII == nil {
		writeError(w, http.StatusNotFound, wire.Error{Error: "this server is not an upper tier: no forward.receive.senders configured"})
		return
	}
	if secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && strings.HasPrefix(strings.TrimSpace(secret), "lct_") {
		p, err := s.d.Tokens.authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			writeError(w, http.StatusUnauthorized, wire.Error{Error: "invalid token"})
			return
		}
		r = r.WithContext(forward.WithOperator(r.Context(), forward.Operator{Name: p.Name, Role: p.Role}))
	}
	s.d.Forward.TAXII.ServeHTTP(w, r)
}

// outbox returns the forwarding outbox for an administrator or analyst,
// or answers why not and returns nil.
func (s *Server) outbox(w http.ResponseWriter, p Principal, what string) *forward.Outbox {
	if !p.can(RoleAdmin, RoleAnalyst) {
		writeError(w, http.StatusForbidden, wire.Error{Error: what + " is for administrators and analysts"})
		return nil
	}
	if s.d.Forward.Outbox == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "forwarding is off: set forward.upstream.url"})
		return nil
	}
	return s.d.Forward.Outbox
}

func (s *Server) forwardOutbox(w http.ResponseWriter, r *http.Request, p Principal) {
	out := s.outbox(w, p, "the outbox")
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
	out := s.outbox(w, p, "the audit of attempts")
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
	if !p.can(RoleAdmin) {
		writeError(w, http.StatusForbidden, wire.Error{Error: "re-identification is for administrators only"})
		return
	}
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
