package api

import (
	"net/http"
	"strings"
)

// Console is the web interface served at "/" beside the API
// (console.Console). It reads and writes through the handler it is
// given, which is this API's, so that it has no permissions of its own.
type Console interface {
	Handler(api http.Handler) http.Handler
}

// apiPrefixes are the paths the API answers itself, with JSON, even when
// nothing matches: a client of the API never gets an HTML page. Every
// route is under one of them (TestRoutesUnderAPIPrefixes), so whatever
// else is asked for is the console's.
var apiPrefixes = []string{"/api/", "/taxii2/"}

// MountConsole serves c for every path outside apiPrefixes, bound to the
// API's own handler, and lists it in the route table. Its pages need a
// session; the data on them comes through the operator routes. Call it
// before Serve.
func (s *Server) MountConsole(c Console) {
	api := s.http.Handler
	pages := c.Handler(api)
	s.table = append(s.table, Route{Pattern: "/", Access: "console"})
	s.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hasAnyPrefix(r.URL.Path, apiPrefixes) {
			api.ServeHTTP(w, r)
			return
		}
		pages.ServeHTTP(w, r)
	})
}

// SetRulebook names the rules loaded at start, served at PathRulebook.
// Call it before Serve.
func (s *Server) SetRulebook(b *Rulebook) { s.d.Rulebook = b }

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
