package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
	"lachan/server/store"
)

// deadKey returns dl/<id>: a retry of the same event replaces its entry
// rather than adding a second one.
func deadKey(id string) []byte { return append([]byte(prefixDead), id...) }

// addDead adds a dead-letter entry for ev.
func (bk *batchKeys) addDead(ev event.Event, doc []byte, field, reason string, at time.Time) {
	dl := store.DeadLetter{ID: ev.ID, At: at.UTC(), Field: field, Reason: reason, Event: doc}
	v, err := json.Marshal(dl)
	if err != nil {
		// A DeadLetter of strings, a time and bytes always marshals.
		panic(fmt.Sprintf("store: marshal dead letter: %v", err))
	}
	bk.kvs = append(bk.kvs, kv{k: deadKey(ev.ID), v: v})
}

// DeadLetters lists the events set aside, oldest first.
func (e *Engine) DeadLetters(ctx context.Context, limit int) ([]store.DeadLetter, error) {
	release, err := e.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	p := []byte(prefixDead)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	var out []store.DeadLetter
	for ok := it.First(); ok; ok = it.Next() {
		var dl store.DeadLetter
		if err := json.Unmarshal(it.Value(), &dl); err != nil {
			it.Close()
			return nil, fmt.Errorf("dead letters: entry %q: %w", it.Key(), err)
		}
		out = append(out, dl)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	slices.SortStableFunc(out, func(a, b store.DeadLetter) int { return a.At.Compare(b.At) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, ctx.Err()
}

// ReplayDeadLetters stores the named dead letters (all when ids is empty)
// that fit the mapping now, and removes them from the dead-letter area in
// the same batch.
func (e *Engine) ReplayDeadLetters(ctx context.Context, ids []string) (int, error) {
	all, err := e.DeadLetters(ctx, 0)
	if err != nil {
		return 0, err
	}
	var evs []event.Event
	for _, dl := range all {
		if len(ids) > 0 && !slices.Contains(ids, dl.ID) {
			continue
		}
		var ev event.Event
		if err := ev.UnmarshalJSON(dl.Event); err != nil {
			return 0, fmt.Errorf("replay dead letter %s: %w", dl.ID, err)
		}
		if _, _, ok := e.fits(ev, nil, nil); ok {
			evs = append(evs, ev)
		}
	}
	if len(evs) == 0 {
		return 0, nil
	}
	if _, err := e.putEvents(ctx, evs, true); err != nil {
		return 0, fmt.Errorf("replay dead letters: %w", err)
	}
	return len(evs), nil
}

// mappingCheck returns the check PutEvents applies: the platform's field
// mapping (store.DefaultMapping), the same one Elasticsearch's index
// templates are made from, so that both engines set aside the same events.
// Given the event's fields in name order (appendFields) and their layout,
// it checks with the layout's store.Checker, which has resolved the
// layout's names already and is made here on first use; the caller must
// be the only one using that layout (an encoded's layouts are its
// writer's). Without them it checks the event alone.
func mappingCheck(Config) func(event.Event, []field, *layout) (string, string, bool) {
	m := store.DefaultMapping()
	return func(ev event.Event, fields []field, l *layout) (string, string, bool) {
		var err *store.MappingError
		if fields == nil || l == nil {
			err = m.Check(ev)
		} else {
			if l.check == nil {
				l.check = m.NewChecker()
			}
			err = l.check.CheckAt(ev, len(fields), func(i int) (string, any) { return fields[i].name, fields[i].v })
		}
		if err != nil {
			return err.Field, err.Reason, false
		}
		return "", "", true
	}
}
