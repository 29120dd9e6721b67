package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"lachan/internal/wire"
)

// MaxIDLen bounds an ID taken from a request: longer ones are no ID the
// server hands out.
const MaxIDLen = 256

// checkID reports why v, given as what (a path or query parameter or a
// body field), cannot be an ID: empty, longer than MaxIDLen, not UTF-8,
// holding a control character or a "/", or "." or "..". Every ID from
// outside goes through it before it reaches the store.
func checkID(what, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s: empty", what)
	case len(v) > MaxIDLen:
		return fmt.Errorf("%s: %d bytes, at most %d allowed", what, len(v), MaxIDLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s: not UTF-8", what)
	case v == "." || v == "..":
		return fmt.Errorf("%s: %q is not an ID", what, v)
	}
	for i, r := range v {
		switch {
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			return fmt.Errorf("%s: control character %U at byte %d", what, r, i)
		case r == '/':
			return fmt.Errorf("%s: \"/\" at byte %d", what, i)
		}
	}
	return nil
}

// idError is checkID's error as a 400 naming the parameter or field.
func idError(what, field, v string) error {
	if err := checkID(what, v); err != nil {
		return &badRequest{code: http.StatusBadRequest, body: wire.Error{Error: err.Error(), Field: field}}
	}
	return nil
}

// idsError is idError for each element of a list field.
func idsError(field string, ids []string) error {
	for i, id := range ids {
		if err := idError(fmt.Sprintf("%s[%d]", field, i), field, id); err != nil {
			return err
		}
	}
	return nil
}

// checkPathIDs answers 400 to a request whose path gives a wildcard of
// its route ({id}, {token}…) a value checkID refuses, before the route's
// handler (and its authentication) runs; other requests go to mux.
func (s *Server) checkPathIDs(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if err := checkWildcards(pattern, r.URL.EscapedPath()); err != nil {
			s.fail(w, r, err)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// checkWildcards matches the escaped path against pattern's segments and
// checks each single-segment wildcard's value.
func checkWildcards(pattern, escapedPath string) error {
	if _, p, ok := strings.Cut(pattern, " "); ok {
		pattern = p // drop the method
	}
	if !strings.Contains(pattern, "{") {
		return nil
	}
	pat := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	for i, p := range pat {
		name, ok := strings.CutPrefix(p, "{")
		if !ok || strings.HasSuffix(p, "...}") || i >= len(segs) {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		v, err := url.PathUnescape(segs[i])
		if err != nil {
			return idError("path parameter "+name, name, "\x00") // cannot happen after the mux matched
		}
		if err := idError("path parameter "+name, name, v); err != nil {
			return err
		}
	}
	return nil
}
