package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"lachan/internal/event"
)

// Sentinel errors every engine returns (wrapped) for these cases.
var (
	// ErrNotFound: no entity or event with that ID.
	ErrNotFound = errors.New("not found")
	// ErrConflict: an entity write named a version that is no longer current.
	ErrConflict = errors.New("version conflict")
	// ErrClosed: the store was used after Close.
	ErrClosed = errors.New("store closed")
	// ErrInvalidID: an entity kind or ID the engine cannot store (empty,
	// holding a byte its key layout reserves, or too long).
	ErrInvalidID = errors.New("invalid ID")
)

// Store is implemented by every engine. All methods are safe for concurrent
// use.
type Store interface {
	// PutEvents stores events idempotently by ID: an event whose ID is
	// already stored is skipped. It returns the events that were new, in
	// input order, and is durable when it returns without error. An event
	// with a field that does not fit the mapping is not stored with the
	// others: it goes to the dead-letter area (DeadLetters) and is left
	// out of fresh.
	PutEvents(ctx context.Context, evs []event.Event) (fresh []event.Event, err error)
	// GetEvents returns the stored events with these IDs, in the given
	// order; unknown IDs are left out.
	GetEvents(ctx context.Context, ids []string) ([]event.Event, error)
	// SearchEvents returns events matching q, newest first unless q.Asc.
	SearchEvents(ctx context.Context, q Query) (Page, error)

	// GetEntity returns an entity's document and its version.
	GetEntity(ctx context.Context, kind, id string) (doc []byte, version uint64, err error)
	// PutEntity writes an entity if its stored version is still version
	// (0 means: must not exist yet) and returns the new version; otherwise
	// it fails with ErrConflict.
	PutEntity(ctx context.Context, kind, id string, doc []byte, version uint64) (uint64, error)
	// DeleteEntity removes an entity (no error if absent).
	DeleteEntity(ctx context.Context, kind, id string) error
	// ListEntities returns every entity of a kind, ordered by ID.
	ListEntities(ctx context.Context, kind string) ([]Entity, error)

	// Aggregate computes aggs over the events q selects (scoped by
	// q.Units like a search), one result per Agg in order.
	Aggregate(ctx context.Context, q Query, aggs []Agg) ([]AggResult, error)
	// DropBefore removes the events of a data kind (DataKindOf) whose
	// @timestamp is before cutoff and returns how many it removed. Engines
	// drop whole time partitions where they can.
	DropBefore(ctx context.Context, kind string, cutoff time.Time) (int64, error)
	// DeadLetters lists events set aside because a field did not fit the
	// mapping, oldest first, at most limit (0: all).
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// ReplayDeadLetters tries the named dead letters again (all when ids is
	// empty): those that now fit are stored and leave the dead-letter
	// area; the others stay. It returns how many were stored.
	ReplayDeadLetters(ctx context.Context, ids []string) (int, error)

	Close() error
}

// EntityPager is implemented by engines that can read a kind's entities
// a page at a time, so that a reader of an index kept as entities (such
// as the incidents' time index) reads what it shows and not the whole
// kind. ListEntitiesAfter returns at most limit entities of kind whose
// IDs sort after after ("" from the first), ordered by ID.
type EntityPager interface {
	ListEntitiesAfter(ctx context.Context, kind, after string, limit int) ([]Entity, error)
}

// ListEntitiesAfter reads a page of a kind's entities (EntityPager) from
// st; an engine without EntityPager lists the whole kind and the page is
// cut from it.
func ListEntitiesAfter(ctx context.Context, st Store, kind, after string, limit int) ([]Entity, error) {
	if p, ok := st.(EntityPager); ok {
		return p.ListEntitiesAfter(ctx, kind, after, limit)
	}
	all, err := st.ListEntities(ctx, kind)
	if err != nil {
		return nil, err
	}
	i, _ := slices.BinarySearchFunc(all, after, func(e Entity, id string) int { return strings.Compare(e.ID, id) })
	if i < len(all) && all[i].ID == after {
		i++
	}
	return all[i:min(len(all), i+max(limit, 0))], nil
}

// Entity is a stored document with its ID and version.
type Entity struct {
	ID      string
	Version uint64
	Doc     []byte
}

// Query selects events. Zero values select everything.
type Query struct {
	// Units scopes the query: only events whose lachan.unit is one of these
	// are returned. Nil means unscoped (an administrator); an empty non-nil
	// slice matches nothing.
	Units []string
	// From (inclusive) and To (exclusive) bound @timestamp.
	From, To time.Time
	// Datasets, when set, keeps only events of these datasets.
	Datasets []string
	// Terms keeps events whose field equals one of the values, for every
	// field named (a list-valued field matches when any element does).
	Terms map[string][]string
	// Limit caps the page (default 100, at most 10,000).
	Limit int
	// After continues from the last event of the previous page.
	After *Cursor
	// Asc orders oldest first.
	Asc bool
	// Filter, when set, keeps only events it matches, on top of every
	// other condition: it narrows a query and never widens it (Units still
	// scope it). Package hunt parses analysts' queries into it.
	Filter *Expr
}

// Cursor is a search-after position: the sort key of the last event seen.
type Cursor struct {
	Timestamp time.Time `json:"ts"`
	ID        string    `json:"id"`
}

// Page is one page of results; Next is nil when there are no more.
type Page struct {
	Events []event.Event
	Next   *Cursor
}

// Entity kinds the server keeps.
const (
	KindAgent    = "agent"
	KindUnit     = "unit"
	KindIncident = "incident"
	KindState    = "state"
	// KindIncidentAlert marks an alert as counted: its ID is the alert's,
	// its document the incident's ID.
	KindIncidentAlert = "incident-alert"
	// KindIncidentOpen indexes the open incidents of one host: the
	// incidents alerts may still join (see package incident).
	KindIncidentOpen = "incident-open"
)

// DefaultLimit and MaxLimit bound a page.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Normalize fills defaults into a query; engines call it first.
func (q Query) Normalize() Query {
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit > MaxLimit {
		q.Limit = MaxLimit
	}
	return q
}

// Match reports whether an event passes the query's filters (not paging).
// Engines without a native filter for some part use it; Matcher compiles
// the filter once for many events.
func (q Query) Match(e event.Event) bool {
	return q.matchPlain(e) && compile(q.Filter)(e)
}

// matchPlain checks everything but the filter.
func (q Query) matchPlain(e event.Event) bool {
	if q.Units != nil && !contains(q.Units, e.String("lachan.unit")) {
		return false
	}
	if !q.From.IsZero() && e.Timestamp.Before(q.From) {
		return false
	}
	if !q.To.IsZero() && !e.Timestamp.Before(q.To) {
		return false
	}
	if len(q.Datasets) > 0 && !contains(q.Datasets, e.Dataset) {
		return false
	}
	for field, vals := range q.Terms {
		if !matchTerm(e, field, vals) {
			return false
		}
	}
	return true
}

func matchTerm(e event.Event, field string, vals []string) bool {
	v, ok := e.Get(field)
	if !ok {
		return false
	}
	if list, ok := v.([]any); ok {
		for _, el := range list {
			if s, ok := el.(string); ok && contains(vals, s) {
				return true
			}
		}
		return false
	}
	return contains(vals, e.String(field))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
