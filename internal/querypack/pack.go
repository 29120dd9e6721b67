// Package querypack reads osquery packs, for the agent that runs them and
// the server that checks a content pack before installing it.
package querypack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Query is one scheduled query of a pack.
type Query struct {
	Name        string
	SQL         string
	Interval    time.Duration
	Platform    string // osquery's platform list: "all", "linux,darwin", "posix", ...
	Description string
}

// Pack is a set of queries, in name order.
type Pack struct {
	Queries []Query
}

// Interval bounds: osquery accepts up to a week; below ten seconds a pack
// would only load the host.
const (
	MinInterval = 10
	MaxInterval = 604800
)

// Load reads an osquery pack file: {"queries": {name: {"query",
// "interval", "platform", "description"}}}. Errors name the file, and the
// query or the line and column at fault.
func Load(fsys fs.FS, path string) (Pack, error) {
	// os.DirFS("/") is how callers reach an absolute path; fs paths are
	// unrooted.
	path = strings.TrimPrefix(path, "/")
	b, err := fs.ReadFile(fsys, path)
	if err != nil {
		return Pack{}, fmt.Errorf("osquery pack: %w", err)
	}
	var raw struct {
		Queries map[string]struct {
			Query       string          `json:"query"`
			Interval    json.RawMessage `json:"interval"`
			Platform    string          `json:"platform"`
			Description string          `json:"description"`
		} `json:"queries"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Pack{}, fmt.Errorf("%s%s: %w", path, jsonPos(b, err), err)
	}
	if len(raw.Queries) == 0 {
		return Pack{}, fmt.Errorf("%s: no queries", path)
	}
	var p Pack
	var errs []error
	for name, q := range raw.Queries {
		iv, err := parseInterval(q.Interval)
		switch {
		case strings.TrimSpace(strings.TrimRight(strings.TrimSpace(q.Query), ";")) == "":
			errs = append(errs, fmt.Errorf("%s: query %q: empty SQL", path, name))
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: query %q: interval: %w", path, name, err))
		case !ValidName(name):
			errs = append(errs, fmt.Errorf("%s: query %q: name must be letters, digits, '_' or '-'", path, name))
		default:
			p.Queries = append(p.Queries, Query{Name: name, SQL: strings.TrimSpace(q.Query), Interval: time.Duration(iv) * time.Second, Platform: q.Platform, Description: q.Description})
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return Pack{}, errors.Join(errs...)
	}
	sort.Slice(p.Queries, func(i, j int) bool { return p.Queries[i].Name < p.Queries[j].Name })
	return p, nil
}

// parseInterval accepts a number of seconds or a string of digits, as
// osquery does.
func parseInterval(raw json.RawMessage) (int64, error) {
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	if s == "" {
		return 0, errors.New("missing")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a whole number of seconds", raw)
	}
	if n < MinInterval || n > MaxInterval {
		return 0, fmt.Errorf("%d seconds, want %d to %d", n, MinInterval, MaxInterval)
	}
	return n, nil
}

// ValidName says whether s may name a query, an extension or a live
// query: letters, digits, '_' or '-'.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// jsonPos turns the offset of a JSON syntax or type error into ":line:col".
func jsonPos(b []byte, err error) string {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return ""
	}
	off = min(off, int64(len(b)))
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(b[:off], '\n'))
	return fmt.Sprintf(":%d:%d", line, col)
}
