package api

import (
	"strings"
	"testing"
)

// TestRoutesUnderAPIPrefixes: the console answers every path outside
// apiPrefixes, so a route registered elsewhere would be hidden by it.
func TestRoutesUnderAPIPrefixes(t *testing.T) {
	e := newRoleEnv(t)
	for _, rt := range e.srv.Routes() {
		_, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			path = rt.Pattern
		}
		if !hasAnyPrefix(path, apiPrefixes) {
			t.Errorf("route %s is outside %v: the console would answer it", rt.Pattern, apiPrefixes)
		}
	}
}
