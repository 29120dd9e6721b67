package indicator

import (
	"context"
	"fmt"
	"strings"

	"lachan/internal/event"
	"lachan/server/store"
)

// sweepChunk bounds the indicators folded into one store filter.
const sweepChunk = 256

// maxSweepPages bounds one sweep chunk's paging (at MaxLimit events a page).
const maxSweepPages = 1000

// Sweep searches stored events selected by q (its time window and unit
// scope; its Filter, when set, still applies) for the indicators inds and
// returns an alert for each hit, as Match would have raised on ingest. The
// store narrows the search through a filter on the indicators' own fields
// and values, so only candidate events are decoded.
func Sweep(ctx context.Context, st store.Store, q store.Query, inds []Indicator) ([]event.Event, error) {
	s, err := NewSet(DefaultConfig(), nil, nil)
	if err != nil {
		return nil, err
	}
	return s.sweep(ctx, st, q, inds)
}

// Sweep is the package-level Sweep with this set's alert level.
func (s *Set) Sweep(ctx context.Context, st store.Store, q store.Query, inds []Indicator) ([]event.Event, error) {
	return s.sweep(ctx, st, q, inds)
}

func (s *Set) sweep(ctx context.Context, st store.Store, q store.Query, inds []Indicator) ([]event.Event, error) {
	checked := make([]*Indicator, 0, len(inds))
	for i := range inds {
		ind := inds[i]
		if err := ind.Check(); err != nil {
			return nil, fmt.Errorf("sweep: indicator %d: %w", i, err)
		}
		checked = append(checked, &ind)
	}
	var out []event.Event
	seen := map[string]bool{}
	for start := 0; start < len(checked); start += sweepChunk {
		chunk := checked[start:min(start+sweepChunk, len(checked))]
		idx := buildIndex(chunk)
		cq := q
		cq.Limit = store.MaxLimit
		cq.After = nil
		cq.Filter = andExpr(q.Filter, filterFor(chunk))
		for page := 0; ; page++ {
			if page == maxSweepPages {
				return out, fmt.Errorf("sweep: more than %d pages of candidates; narrow the window", maxSweepPages)
			}
			p, err := st.SearchEvents(ctx, cq)
			if err != nil {
				return out, fmt.Errorf("sweep: search: %w", err)
			}
			for _, ev := range p.Events {
				if ev.Dataset == event.DatasetAlert {
					continue
				}
				idx.find(ev, func(ind *Indicator, field, value string) {
					if !ind.ActiveAt(ev.Timestamp) {
						return
					}
					a := s.alert(ind, ev, field, value)
					if !seen[a.ID] {
						seen[a.ID] = true
						out = append(out, a)
					}
				})
			}
			if p.Next == nil {
				break
			}
			cq.After = p.Next
		}
	}
	return out, nil
}

func andExpr(a, b *store.Expr) *store.Expr {
	if a == nil {
		return b
	}
	return &store.Expr{Op: store.OpAnd, Args: []*store.Expr{a, b}}
}

// filterFor is a filter that holds for every event in which one of the
// indicators could be found (and for a few more: the index decides).
func filterFor(inds []*Indicator) *store.Expr {
	or := &store.Expr{Op: store.OpOr}
	for _, ind := range inds {
		for _, f := range Fields[ind.Type] {
			switch {
			case ind.Type == TypeIP && strings.Contains(ind.Value, "/"):
				or.Args = append(or.Args, &store.Expr{Op: store.OpCIDR, Field: f, Value: ind.Value})
			case ind.Type == TypeDomain:
				or.Args = append(or.Args,
					&store.Expr{Op: store.OpTerm, Field: f, Value: ind.Value},
					&store.Expr{Op: store.OpWildcard, Field: f, Value: "*." + escapeWildcard(ind.Value)})
			case hashLen[ind.Type] > 0:
				// Windows tools write hashes in upper case.
				or.Args = append(or.Args,
					&store.Expr{Op: store.OpTerm, Field: f, Value: ind.Value},
					&store.Expr{Op: store.OpTerm, Field: f, Value: strings.ToUpper(ind.Value)})
			default:
				or.Args = append(or.Args, &store.Expr{Op: store.OpTerm, Field: f, Value: ind.Value})
			}
		}
	}
	return or
}

func escapeWildcard(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`)
	return r.Replace(s)
}
