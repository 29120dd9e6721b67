package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"lachan/internal/wire"
	"lachan/server/indicator"
	"lachan/server/store"
)

// PathIndicators lists (GET), adds (POST) and removes (DELETE …/{id})
// indicators of compromise.
const PathIndicators = "/api/v1/indicators"

// maxIndicatorBody bounds one POST of indicators.
const maxIndicatorBody = 16 << 20

// IndicatorsAdd is the body of a POST to PathIndicators.
type IndicatorsAdd struct {
	Indicators []indicator.Indicator `json:"indicators"`
	// NoSweep skips the look back over stored events.
	NoSweep bool `json:"no_sweep,omitempty"`
}

// IndicatorsAdded is the answer: how many were added, and how many alerts
// the sweep over stored events raised.
type IndicatorsAdded struct {
	Added       int `json:"added"`
	Total       int `json:"total"`
	SweptAlerts int `json:"swept_alerts"`
}

func (s *Server) indicatorRoutes(mux *http.ServeMux) {
	s.route(mux, "GET "+PathIndicators, PermIndicatorsRead, s.listIndicators)
	s.route(mux, "POST "+PathIndicators, PermIndicatorsWrite, s.addIndicators)
	s.route(mux, "DELETE "+PathIndicators+"/{id}", PermIndicatorsWrite, s.removeIndicator)
}

// indicators answers 503 when the server runs without an indicator set.
// Indicators are the city's, not one unit's: a caller's units do not
// narrow them.
func (s *Server) indicators(w http.ResponseWriter) *indicator.Set {
	if s.d.Indicators == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "indicators are not configured on this server"})
		return nil
	}
	return s.d.Indicators
}

func (s *Server) listIndicators(w http.ResponseWriter, r *http.Request, p Principal) {
	set := s.indicators(w)
	if set == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"indicators": set.List()})
}

func (s *Server) addIndicators(w http.ResponseWriter, r *http.Request, p Principal) {
	set := s.indicators(w)
	if set == nil {
		return
	}
	var req IndicatorsAdd
	dec := json.NewDecoder(io.LimitReader(r.Body, maxIndicatorBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.fail(w, r, clientError(http.StatusBadRequest, "malformed request body: "+err.Error()))
		return
	}
	for i := range req.Indicators {
		if err := req.Indicators[i].Check(); err != nil {
			writeError(w, http.StatusBadRequest, wire.Error{Error: fmt.Sprintf("indicator %d: %v", i, err), Field: fmt.Sprintf("indicators[%d]", i)})
			return
		}
	}
	err := set.Add(r.Context(), req.Indicators)
	s.audit(r, p, "indicator.add", "", outcome(err), map[string]any{"count": len(req.Indicators), "no_sweep": req.NoSweep})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("indicators added", "count", len(req.Indicators), "by", p.Name)
	out := IndicatorsAdded{Added: len(req.Indicators), Total: set.Len()}
	if !req.NoSweep && len(req.Indicators) > 0 {
		now := time.Now().UTC()
		q := store.Query{From: now.Add(-set.Config().SweepWindow), To: now.Add(time.Minute)}
		alerts, err := set.Sweep(r.Context(), s.d.Store, q, req.Indicators)
		if err != nil {
			s.fail(w, r, fmt.Errorf("indicator sweep: %w", err))
			return
		}
		if out.SweptAlerts, err = s.d.Pipeline.FileAlerts(r.Context(), alerts); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) removeIndicator(w http.ResponseWriter, r *http.Request, p Principal) {
	set := s.indicators(w)
	if set == nil {
		return
	}
	n, err := set.Remove(r.Context(), r.PathValue("id"))
	s.audit(r, p, "indicator.remove", r.PathValue("id"), outcome(err), map[string]any{"removed": n})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n == 0 {
		writeError(w, http.StatusNotFound, wire.Error{Error: "no indicator " + r.PathValue("id")})
		return
	}
	s.log.Info("indicators removed", "id", r.PathValue("id"), "count", n, "by", p.Name)
	writeJSON(w, http.StatusOK, map[string]int{"removed": n})
}
