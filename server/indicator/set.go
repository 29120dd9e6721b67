package indicator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"lachan/internal/event"
	"lachan/server/detect"
	"lachan/server/store"
)

// KindIndicator is the store entity kind that persists a Set.
const KindIndicator = "indicator"

// Config holds the settings of a Set.
type Config struct {
	// Level is the Sigma level of indicator alerts.
	Level string `mapstructure:"level"`
	// SweepWindow is how far back a sweep looks when indicators arrive.
	SweepWindow time.Duration `mapstructure:"sweep_window"`
}

// DefaultConfig returns level high and a 30-day sweep.
func DefaultConfig() Config {
	return Config{Level: "high", SweepWindow: 30 * 24 * time.Hour}
}

// Validate checks the level and the window.
func (c Config) Validate() error {
	if detect.Severity(c.Level) == 0 {
		return fmt.Errorf("indicator config: level %q: want one of %v", c.Level, detect.Levels)
	}
	if c.SweepWindow < 0 {
		return fmt.Errorf("indicator config: sweep_window %s is negative", c.SweepWindow)
	}
	return nil
}

// Set is a collection of indicators indexed for matching. It is safe for
// concurrent use: Match reads an immutable index that Add and Remove
// replace whole.
type Set struct {
	cfg Config
	st  store.Store // nil: kept in memory only
	log *slog.Logger

	mu   sync.Mutex // serialises writers
	byID map[string]Indicator
	idx  atomic.Pointer[index]
}

// NewSet returns an empty set that persists to st (when not nil); call
// Load to read what st already holds.
func NewSet(cfg Config, st store.Store, log *slog.Logger) (*Set, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Set{cfg: cfg, st: st, log: log.With("component", "indicator"), byID: map[string]Indicator{}}
	s.idx.Store(buildIndex(nil))
	return s, nil
}

// Load reads the indicators persisted in the store into the set. A stored
// document that does not decode is logged and skipped.
func (s *Set) Load(ctx context.Context) error {
	if s.st == nil {
		return nil
	}
	ents, err := s.st.ListEntities(ctx, KindIndicator)
	if err != nil {
		return fmt.Errorf("load indicators: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range ents {
		var ind Indicator
		if err := json.Unmarshal(e.Doc, &ind); err != nil {
			s.log.Warn("stored indicator does not decode", "id", e.ID, "err", err)
			continue
		}
		if err := ind.Check(); err != nil {
			s.log.Warn("stored indicator is not valid", "id", e.ID, "err", err)
			continue
		}
		s.byID[ind.ID] = ind
	}
	s.rebuild()
	return nil
}

// Add checks the indicators, persists them and adds them to the set,
// replacing any with the same ID. Nothing is added when one is invalid.
func (s *Set) Add(ctx context.Context, inds []Indicator) error {
	checked := make([]Indicator, len(inds))
	now := time.Now().UTC()
	for i, ind := range inds {
		if err := ind.Check(); err != nil {
			return fmt.Errorf("indicator %d: %w", i, err)
		}
		if ind.Added.IsZero() {
			ind.Added = now
		}
		checked[i] = ind
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st != nil {
		for _, ind := range checked {
			if err := s.persist(ctx, ind); err != nil {
				return err
			}
		}
	}
	for _, ind := range checked {
		s.byID[ind.ID] = ind
	}
	s.rebuild()
	return nil
}

// persist writes one indicator, overwriting whatever version is stored.
func (s *Set) persist(ctx context.Context, ind Indicator) error {
	doc, err := json.Marshal(ind)
	if err != nil {
		return fmt.Errorf("encode indicator %s: %w", ind.ID, err)
	}
	for try := 0; try < 5; try++ {
		_, ver, err := s.st.GetEntity(ctx, KindIndicator, ind.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("store indicator %s: %w", ind.ID, err)
		}
		if _, err = s.st.PutEntity(ctx, KindIndicator, ind.ID, doc, ver); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("store indicator %s: %w", ind.ID, err)
		}
	}
	return fmt.Errorf("store indicator %s: %w after 5 tries", ind.ID, store.ErrConflict)
}

// Remove takes indicators out of the set by ID, or by the STIX object they
// came from, and returns how many it removed.
func (s *Set) Remove(ctx context.Context, ids ...string) (int, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, ind := range s.byID {
		if !want[id] && (ind.STIXID == "" || !want[ind.STIXID]) {
			continue
		}
		if s.st != nil {
			if err := s.st.DeleteEntity(ctx, KindIndicator, id); err != nil {
				s.rebuild()
				return n, fmt.Errorf("remove indicator %s: %w", id, err)
			}
		}
		delete(s.byID, id)
		n++
	}
	s.rebuild()
	return n, nil
}

// Config returns the set's configuration.
func (s *Set) Config() Config { return s.cfg }

// Len returns the number of indicators in the set.
func (s *Set) Len() int {
	return len(s.idx.Load().all)
}

// List returns the indicators ordered by type, then value, then ID.
func (s *Set) List() []Indicator {
	all := s.idx.Load().all
	out := make([]Indicator, len(all))
	for i, p := range all {
		out[i] = *p
	}
	return out
}

// rebuild replaces the index; the caller holds mu.
func (s *Set) rebuild() {
	all := make([]*Indicator, 0, len(s.byID))
	for _, ind := range s.byID {
		ind := ind
		all = append(all, &ind)
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Value != b.Value {
			return a.Value < b.Value
		}
		return a.ID < b.ID
	})
	s.idx.Store(buildIndex(all))
}

// Match returns one alert for each active indicator found in ev (see
// package doc). Alerts themselves are never matched: they copy addresses
// and hashes from the events they are about.
func (s *Set) Match(ev event.Event) []event.Event {
	if ev.Dataset == event.DatasetAlert {
		return nil
	}
	idx := s.idx.Load()
	if len(idx.all) == 0 {
		return nil
	}
	var out []event.Event
	idx.find(ev, func(ind *Indicator, field, value string) {
		if ind.ActiveAt(ev.Timestamp) {
			out = append(out, s.alert(ind, ev, field, value))
		}
	})
	return out
}
