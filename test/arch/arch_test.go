// Package arch keeps the boundaries of docs/architecture: agent/ and
// server/ never import each other, internal/ imports neither, and only cmd
// packages choose a concrete store engine.
package arch

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "lachan/"

func TestBoundaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	checked := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		pkg := fields[0]
		checked++
		for _, imp := range fields[1:] {
			if msg := violation(pkg, imp); msg != "" {
				t.Errorf("%s imports %s: %s", pkg, imp, msg)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages listed; the test is not seeing the module", checked)
	}
}

func violation(pkg, imp string) string {
	under := func(p, dir string) bool { return strings.HasPrefix(p, module+dir+"/") || p == module+dir }
	switch {
	case under(pkg, "agent") && under(imp, "server"):
		return "the agent must not depend on the server"
	case under(pkg, "server") && under(imp, "agent"):
		return "the server must not depend on the agent"
	case under(pkg, "internal") && (under(imp, "server") || under(imp, "agent")):
		return "internal/ is shared by both sides and depends on neither"
	case isEngine(imp) && !strings.Contains(pkg, "/cmd/") && !strings.HasPrefix(pkg, imp):
		return "only cmd packages choose a concrete store engine"
	}
	return ""
}

// engines are the concrete implementations of server/store.Store.
var engines = []string{module + "server/store/embedded", module + "server/store/elastic"}

func isEngine(imp string) bool {
	for _, e := range engines {
		if imp == e || strings.HasPrefix(imp, e+"/") {
			return true
		}
	}
	return false
}

func TestViolationRules(t *testing.T) {
	cases := []struct {
		pkg, imp string
		bad      bool
	}{
		{"lachan/agent/daemon", "lachan/server/store", true},
		{"lachan/server/api", "lachan/agent/ship", true},
		{"lachan/internal/event", "lachan/server/store", true},
		{"lachan/server/api", "lachan/server/store/embedded", true},
		{"lachan/server/cmd/lachan", "lachan/server/store/embedded", false},
		{"lachan/agent/daemon", "lachan/internal/event", false},
		{"lachan/server/api", "lachan/server/store", false},
		{"lachan/server/api", "lachan/server/store/hunt", false},
	}
	for _, c := range cases {
		if got := violation(c.pkg, c.imp) != ""; got != c.bad {
			t.Errorf("violation(%s, %s) = %v, want %v", c.pkg, c.imp, got, c.bad)
		}
	}
}
