package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"lachan/internal/wire"
	"lachan/server/store"
)

// storeRoutes adds the aggregation and dead-letter endpoints.
func (s *Server) storeRoutes(mux *http.ServeMux) {
	s.route(mux, "GET "+wire.PathAggregate, PermEventsRead, s.aggregate)
	s.route(mux, "GET "+wire.PathDeadLetters, PermDeadLetters, s.deadLetters)
	s.route(mux, "POST "+wire.PathDeadLetters+"/replay", PermDeadLetters, s.replayDeadLetters)
}

// aggregate answers GET /api/v1/aggregate with the event query parameters
// of /api/v1/events plus one or more agg=terms:FIELD[:SIZE],
// agg=cardinality:FIELD or agg=date_histogram:INTERVAL. It is scoped to the
// caller's units like a search.
func (s *Server) aggregate(w http.ResponseWriter, r *http.Request, p Principal) {
	q, err := parseQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q.Units = p.Units
	var aggs []store.Agg
	for _, spec := range r.URL.Query()["agg"] {
		a, err := ParseAgg(spec)
		if err != nil {
			s.fail(w, r, clientError(http.StatusBadRequest, err.Error()))
			return
		}
		aggs = append(aggs, a)
	}
	if len(aggs) == 0 {
		s.fail(w, r, clientError(http.StatusBadRequest, "agg: give at least one, e.g. agg=terms:host.name"))
		return
	}
	var res []store.AggResult
	if !s.query(w, r, p, func(ctx context.Context) (err error) {
		res, err = s.d.Store.Aggregate(ctx, q, aggs)
		return err
	}) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"aggregations": res})
}

// ParseAgg reads terms:FIELD[:SIZE], cardinality:FIELD or
// date_histogram:INTERVAL (a Go duration such as 1h).
func ParseAgg(spec string) (store.Agg, error) {
	kind, rest, _ := strings.Cut(spec, ":")
	a := store.Agg{Name: spec, Kind: store.AggKind(kind)}
	switch a.Kind {
	case store.AggTerms:
		field, size, hasSize := strings.Cut(rest, ":")
		a.Field = field
		if hasSize {
			n, err := strconv.Atoi(size)
			if err != nil || n < 1 {
				return a, fmt.Errorf("agg %q: size %q is not a positive number", spec, size)
			}
			a.Size = n
		}
	case store.AggCardinality:
		a.Field = rest
	case store.AggDateHistogram:
		d, err := time.ParseDuration(rest)
		if err != nil {
			return a, fmt.Errorf("agg %q: interval %q: %v", spec, rest, err)
		}
		a.Interval = d
	}
	return a.Normalize()
}

// deadLetters lists the events set aside for not fitting the mapping.
// Administrators only: a dead letter is not scoped to a unit, since the
// field that failed may be the unit itself.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request, p Principal) {
	limit := 0
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			s.fail(w, r, clientError(http.StatusBadRequest, fmt.Sprintf("limit %q: want a positive number", l)))
			return
		}
		limit = n
	}
	dls, err := s.d.Store.DeadLetters(r.Context(), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if dls == nil {
		dls = []store.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": dls})
}

// replayDeadLetters tries dead letters again: {"ids": [...]} or all.
func (s *Server) replayDeadLetters(w http.ResponseWriter, r *http.Request, p Principal) {
	var req struct {
		IDs []string `json:"ids"`
	}
	if r.ContentLength != 0 {
		if err := decodeSmall(r, &req); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if err := idsError("ids", req.IDs); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.d.Store.ReplayDeadLetters(r.Context(), req.IDs)
	s.audit(r, p, "deadletter.replay", "", outcome(err), map[string]any{"ids": req.IDs, "stored": n})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("dead letters replayed", "by", p.Name, "stored", n)
	writeJSON(w, http.StatusOK, map[string]int{"stored": n})
}
