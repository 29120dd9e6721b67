//go:build linux

package pkg

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// A guide's tested steps are fenced blocks whose info string is
// "sh test=NAME": the test runs them under that name, as written, with
// these words replaced by the values of the run — the words a reader
// replaces too.
var placeholders = []string{"FINGERPRINT", "SECRET", "AGENT_ID"}

// step is one tested block of a guide.
type step struct {
	file string
	line int
	name string
	body string
}

var fenceRE = regexp.MustCompile("^```sh\\s+test=([a-z0-9-]+)\\s*$")

// guideSteps reads the tested blocks of a guide, by name.
func guideSteps(t *testing.T, path string) map[string]step {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	steps := map[string]step{}
	var cur *step
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil:
			if m := fenceRE.FindStringSubmatch(line); m != nil {
				if _, dup := steps[m[1]]; dup {
					t.Fatalf("%s:%d: step %s given twice", path, n, m[1])
				}
				cur = &step{file: path, line: n, name: m[1]}
			}
		case strings.HasPrefix(line, "```"):
			steps[cur.name] = *cur
			cur = nil
		default:
			cur.body += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: block %s not closed", path, cur.line, cur.name)
	}
	return steps
}

// commands counts a step's commands: lines that are not comments, blank,
// continuations or here-document bodies.
func (s step) commands() int {
	n, inDoc, cont := 0, "", false
	for _, line := range strings.Split(s.body, "\n") {
		trim := strings.TrimSpace(line)
		switch {
		case inDoc != "":
			if trim == inDoc {
				inDoc = ""
			}
			continue
		case trim == "" || strings.HasPrefix(trim, "#"):
			continue
		}
		if !cont {
			n++
		}
		cont = strings.HasSuffix(trim, "\\")
		if i := strings.Index(trim, "<<'"); i >= 0 {
			inDoc = strings.Trim(trim[i+2:], "'")
		}
	}
	return n
}

var systemctlRE = regexp.MustCompile(`^(?:sudo\s+)?systemctl\s+(start|stop|restart|status)\s+(lachan|lachan-agent)\s*$`)

// runStep runs a guide's step in the chroot: sudo is dropped (the test is
// root and minbase has no sudo), placeholders take the run's values, and
// systemctl lines start and stop the services as their units would.
func (c *chroot) runStep(s step, dir string, values map[string]string) string {
	c.t.Helper()
	var out strings.Builder
	var script []string
	flush := func() {
		if len(script) == 0 {
			return
		}
		o, err := c.sh(dir, strings.Join(script, "\n"))
		out.WriteString(o)
		if err != nil {
			c.t.Fatalf("%s:%d (step %s): %v\n%s\n%s", s.file, s.line, s.name, err, strings.Join(script, "\n"), tail(o, 6000))
		}
		script = nil
	}
	for _, line := range strings.Split(strings.TrimRight(s.body, "\n"), "\n") {
		if m := systemctlRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			flush()
			c.systemctl(m[1], m[2])
			continue
		}
		line = strings.Replace(line, "sudo ", "", 1)
		for _, p := range placeholders {
			if v, ok := values[p]; ok {
				line = regexp.MustCompile(`\b`+p+`\b`).ReplaceAllString(line, v)
			}
		}
		script = append(script, line)
	}
	flush()
	return out.String()
}

func stepOf(t *testing.T, steps map[string]step, name string) step {
	t.Helper()
	s, ok := steps[name]
	if !ok {
		t.Fatalf("no step %q in the guide (a fenced block ```sh test=%s)", name, name)
	}
	return s
}

func (s step) String() string { return fmt.Sprintf("%s:%d %s", s.file, s.line, s.name) }
