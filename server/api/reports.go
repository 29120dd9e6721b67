package api

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"lachan/internal/wire"
	"lachan/server/audit"
	"lachan/server/forward"
	"lachan/server/incident"
	"lachan/server/report"
)

// Paths of the auditors' reports: one report (kind system, unit or
// incident) and the public key their signatures verify with.
const (
	PathReports   = "/api/v1/reports"
	PathReportKey = "/api/v1/reports/key"
)

// HeaderReportSignature carries the report's detached JWS (report.Sign):
// the client writes it beside the file.
const HeaderReportSignature = "X-Lachan-Report-Signature"

// ReportKey is the answer of GET PathReportKey, in the form of
// forward.FormatPublicKey, with its key ID as the signatures name it.
type ReportKey struct {
	PublicKey string `json:"public_key"`
	KeyID     string `json:"kid"`
}

func (s *Server) reportRoutes(mux *http.ServeMux) {
	s.route(mux, "GET "+PathReportKey, PermReportsRead, s.reportKey)
	s.route(mux, "GET "+PathReports+"/{kind}/{id}", PermReportsRead, s.makeReport)
}

func (s *Server) reportKey(w http.ResponseWriter, _ *http.Request, _ Principal) {
	k := s.d.PKI.ReportSigner().Public().(ed25519.PublicKey)
	writeJSON(w, http.StatusOK, ReportKey{PublicKey: forward.FormatPublicKey(k), KeyID: report.KeyID(k)})
}

// reportRequest reads a report's parameters: from, to (dates), lang
// (default vi), format (default pdf) and form (incident reports).
func reportRequest(r *http.Request, p Principal) (report.Request, error) {
	q := r.URL.Query()
	req := report.Request{Kind: r.PathValue("kind"), ID: r.PathValue("id"), Lang: q.Get("lang"), Format: q.Get("format"), Form: q.Get("form"), Units: p.Units}
	if req.Lang == "" {
		req.Lang = report.LangVI
	}
	if req.Format == "" {
		req.Format = report.FormatPDF
	}
	if req.Form == "" && req.Kind == report.KindIncident {
		req.Form = report.FormInitial
	}
	for name, dst := range map[string]*time.Time{"from": &req.From, "to": &req.To} {
		if v := q.Get(name); v != "" {
			t, err := report.ParseDay(name, v)
			if err != nil {
				return req, clientError(http.StatusBadRequest, err.Error())
			}
			*dst = t
		}
	}
	return req, nil
}

func (s *Server) makeReport(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.d.Reports == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "reports are not configured on this server"})
		return
	}
	req, err := reportRequest(r, p)
	object := req.Kind + "/" + req.ID
	detail := map[string]any{"from": r.URL.Query().Get("from"), "to": r.URL.Query().Get("to"), "format": req.Format, "lang": req.Lang, "form": req.Form}
	if err != nil {
		s.audit(r, p, "report.make", object, audit.OutcomeFailure, detail)
		s.fail(w, r, err)
		return
	}
	var doc []byte
	// A report reads like a handful of aggregations: it runs under the
	// same gate as searches, so reports never take every core from ingest.
	made := s.query(w, r, p, func(ctx context.Context) error {
		rep, err := s.d.Reports.Build(ctx, req)
		if err == nil {
			doc, err = report.Render(rep, req.Format)
		}
		if err != nil {
			s.audit(r, p, "report.make", object, audit.OutcomeFailure, detail)
			return reportError(err)
		}
		return nil
	})
	if !made {
		return
	}
	sum := sha256.Sum256(doc)
	detail["sha256"] = hex.EncodeToString(sum[:])
	s.audit(r, p, "report.make", object, audit.OutcomeSuccess, detail)
	ctype := "application/pdf"
	if req.Format == report.FormatHTML {
		ctype = "text/html; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set(HeaderReportSignature, strings.TrimSpace(string(report.Sign(doc, s.d.PKI.ReportSigner()))))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

// reportError turns the report's client errors into 400s; not found stays
// 404 (another unit's system, unit or incident answers the same).
func reportError(err error) error {
	switch {
	case errors.Is(err, report.ErrRequest), errors.Is(err, incident.ErrAmbiguous), errors.Is(err, incident.ErrShortPrefix):
		return clientError(http.StatusBadRequest, err.Error())
	}
	return err
}
