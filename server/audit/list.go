package audit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// Filter selects records for List. Zero values select everything.
type Filter struct {
	Actor  string
	Action string
	// Since (inclusive) and Until (exclusive) bound the record's time.
	Since, Until time.Time
	// After continues from the sequence number of the previous page.
	After uint64
	// Limit caps the page (DefaultLimit when 0, at most MaxLimit).
	Limit int
}

// Page bounds of List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Match reports whether a record passes the filter's conditions (not
// paging).
func (f Filter) Match(r Record) bool {
	return (f.Actor == "" || r.Actor == f.Actor) && (f.Action == "" || r.Action == f.Action) &&
		(f.Since.IsZero() || !r.Time.Before(f.Since)) && (f.Until.IsZero() || r.Time.Before(f.Until))
}

var errPageFull = errors.New("page full")

// List returns the records the filter selects, oldest first, and the
// sequence number to pass as After for the next page (0 when there are no
// more).
func (t *Trail) List(ctx context.Context, f Filter) ([]Record, uint64, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	f.Limit = min(f.Limit, MaxLimit)
	out := []Record{}
	var next uint64
	err := t.Scan(ctx, f.After, func(r Record) error {
		if !f.Match(r) {
			return nil
		}
		if len(out) == f.Limit {
			next = out[len(out)-1].Seq
			return errPageFull
		}
		out = append(out, r)
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, 0, err
	}
	return out, next, nil
}

// Export writes the records after seq after up to record last (at or
// before the head) as JSON lines, in order: the form Verify reads.
func (t *Trail) Export(ctx context.Context, w io.Writer, after, last uint64) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return t.ScanTo(ctx, after, last, func(r Record) error { return enc.Encode(r) })
}
