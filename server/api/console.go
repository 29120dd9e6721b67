package api

import (
	"net/http"
	"strings"

	"lachan/internal/wire"
)

// Console is the web interface served at "/" beside the API
// (console.Console). It reads and writes through the handler it is
// given, which is this API's, so that it has no permissions of its own.
type Console interface {
	Handler(api http.Handler) http.Handler
}

// apiPrefixes are the paths the API answers itself, with JSON, even when
// nothing matches: a client of the API never gets an HTML page.
var apiPrefixes = []string{"/api/", "/taxii2/"}

// mountConsole binds the console, if any, to the finished API handler
// and lists it in the route table. Its pages need a session; the data on
// them comes through the operator routes above.
func (s *Server) mountConsole(api http.Handler) {
	if s.d.Console == nil {
		return
	}
	s.console = s.d.Console.Handler(api)
	s.table = append(s.table, Route{Pattern: "/", Access: "console"})
}

// notFound answers what no route matched: the console's pages outside
// the API's paths, else the API's JSON 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if s.console != nil && !hasAnyPrefix(r.URL.Path, apiPrefixes) {
		s.console.ServeHTTP(w, r)
		return
	}
	writeError(w, http.StatusNotFound, wire.Error{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
