package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"lachan/internal/wire"
	"lachan/server/audit"
	"lachan/server/forward"
)

// Paths of the audit trail: the records (filtered, paged), the whole
// trail as JSON lines, and the public key its checkpoints verify with.
const (
	PathAudit       = "/api/v1/audit"
	PathAuditExport = "/api/v1/audit/export"
	PathAuditKey    = "/api/v1/audit/key"
)

// HeaderAuditHead, on an export, is the last record's sequence number and
// hash ("SEQ HASH"): the export ends there, so a reader can tell a cut
// stream from a whole one.
const HeaderAuditHead = "X-Lachan-Audit-Head"

// AuditPage is the answer of GET PathAudit; Next, when not 0, is the
// after= of the next page.
type AuditPage struct {
	Records []audit.Record `json:"records"`
	Next    uint64         `json:"next,omitempty"`
}

// AuditKey is the answer of GET PathAuditKey, in the form of
// forward.FormatPublicKey.
type AuditKey struct {
	PublicKey string `json:"public_key"`
}

func (s *Server) auditRoutes(mux *http.ServeMux) {
	s.route(mux, "GET "+PathAudit, PermAuditRead, s.listAudit)
	s.route(mux, "GET "+PathAuditExport, PermAuditRead, s.exportAudit)
	s.route(mux, "GET "+PathAuditKey, PermAuditRead, s.auditKey)
}

// auditCaller is the request's context carrying the caller's role and
// address, for the records parts deeper down make (system changes).
func (s *Server) auditCaller(r *http.Request, p Principal) context.Context {
	return audit.WithCaller(r.Context(), audit.Caller{Role: p.Role, Source: remoteAddr(r).String()})
}

// outcome names how an action ended.
func outcome(err error) string {
	if err != nil {
		return audit.OutcomeFailure
	}
	return audit.OutcomeSuccess
}

// trail answers 503 without a trail, and returns nil then.
func (s *Server) trail(w http.ResponseWriter, _ Principal) *audit.Trail {
	if s.d.Trail == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "the audit trail is not configured on this server"})
		return nil
	}
	return s.d.Trail
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p Principal) {
	tr := s.trail(w, p)
	if tr == nil {
		return
	}
	f, err := parseAuditFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	recs, next, err := tr.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AuditPage{Records: recs, Next: next})
}

func parseAuditFilter(r *http.Request) (audit.Filter, error) {
	v := r.URL.Query()
	f := audit.Filter{Actor: v.Get("actor"), Action: v.Get("action")}
	var err error
	if f.Since, err = parseTime(v.Get("since"), "since"); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(v.Get("until"), "until"); err != nil {
		return f, err
	}
	if l := v.Get("limit"); l != "" {
		if f.Limit, err = strconv.Atoi(l); err != nil || f.Limit < 1 || f.Limit > audit.MaxLimit {
			return f, clientError(http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to %d", l, audit.MaxLimit))
		}
	}
	if a := v.Get("after"); a != "" {
		if f.After, err = strconv.ParseUint(a, 10, 64); err != nil {
			return f, clientError(http.StatusBadRequest, fmt.Sprintf("after %q: want a sequence number", a))
		}
	}
	return f, nil
}

// exportChunk is how many records go out between flushes; each flush
// also gives the stream more time, so a long trail is not cut by the
// server's write timeout.
const exportChunk = 500

// exportAudit streams the whole trail as JSON lines, up to the head as it
// was when the request came (HeaderAuditHead).
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request, p Principal) {
	tr := s.trail(w, p)
	if tr == nil {
		return
	}
	seq, hash, err := tr.Head(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set(HeaderAuditHead, fmt.Sprintf("%d %s", seq, hash))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for from := uint64(0); from < seq; from += exportChunk {
		_ = rc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		if err := tr.Export(r.Context(), w, from, min(from+exportChunk, seq)); err != nil {
			// The status is sent: the reader sees a stream that ends before
			// HeaderAuditHead.
			if !errors.Is(err, context.Canceled) {
				s.log.Error("audit export cut", "by", p.Name, "after", from, "err", err)
			}
			return
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return
		}
	}
	s.audit(r, p, "audit.export", "", audit.OutcomeSuccess, map[string]any{"last_seq": seq})
}

func (s *Server) auditKey(w http.ResponseWriter, r *http.Request, p Principal) {
	if tr := s.trail(w, p); tr != nil {
		writeJSON(w, http.StatusOK, AuditKey{PublicKey: forward.FormatPublicKey(tr.PublicKey())})
	}
}
