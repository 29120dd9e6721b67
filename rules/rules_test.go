package rules

import (
	"errors"
	"io/fs"
	"path"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"lachan/agent/osquery"
	"lachan/agent/yara"
)

// TestYARA compiles every YARA file on its own, as the agent would, and
// checks the metadata every rule here must carry.
func TestYARA(t *testing.T) {
	files, _ := fs.Glob(FS, "yara/*")
	if len(files) < 2 {
		t.Fatalf("only %d YARA files", len(files))
	}
	total := 0
	for _, f := range files {
		if ext := path.Ext(f); ext != ".yar" && ext != ".yara" {
			t.Errorf("%s: not a .yar file; the agent would ignore it", f)
			continue
		}
		src, err := fs.ReadFile(FS, f)
		if err != nil {
			t.Fatal(err)
		}
		r, errs := yara.Compile(fstest.MapFS{path.Base(f): {Data: src}}, ".")
		if len(errs) == 1 && errors.Is(errs[0], yara.ErrNoYARA) {
			t.Skip(errs[0])
		}
		for _, err := range errs {
			t.Errorf("%v", err) // names the file and line
		}
		if r == nil || r.Count() == 0 {
			t.Errorf("%s: no rules", f)
			continue
		}
		total += r.Count()
		for _, key := range []string{"description", "author = \"Lá Chắn\"", "reference"} {
			if n := strings.Count(string(src), "\n        "+key); n < r.Count() {
				t.Errorf("%s: %d rules but %d with meta %s", f, r.Count(), n, key)
			}
		}
	}
	sub, _ := fs.Sub(FS, "yara")
	all, errs := yara.Compile(sub, ".")
	if len(errs) > 0 || all.Count() != total {
		t.Errorf("compiled together: %d rules, %v; want %d", all.Count(), errs, total)
	}
}

// TestOsqueryPacks parses every pack the way the agent loads it.
func TestOsqueryPacks(t *testing.T) {
	files, _ := fs.Glob(FS, "osquery/*")
	if len(files) == 0 {
		t.Fatal("no osquery packs")
	}
	for _, f := range files {
		if f == schemaFile {
			continue
		}
		if ext := path.Ext(f); ext != ".conf" && ext != ".json" {
			t.Errorf("%s: not a .conf or .json pack", f)
			continue
		}
		p, err := osquery.LoadPack(FS, f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, q := range p.Queries {
			sql := strings.ToUpper(strings.TrimSpace(q.SQL))
			if !strings.HasPrefix(sql, "SELECT ") && !strings.HasPrefix(sql, "WITH ") {
				t.Errorf("%s: query %s: not a SELECT: %q", f, q.Name, q.SQL)
			}
			if strings.Count(sql, ";") > 1 || strings.Contains(strings.TrimSuffix(sql, ";"), ";") {
				t.Errorf("%s: query %s: more than one statement", f, q.Name)
			}
			// An evented table hands over only the events since the last
			// run, so it is read often to keep telemetry near real time;
			// a query of state must not load the host every few seconds.
			lo := time.Minute
			if strings.HasSuffix(q.Name, "_events") && strings.Contains(strings.ToLower(q.SQL), "from "+q.Name) {
				lo = 10 * time.Second
			}
			if q.Interval < lo || q.Interval > 24*time.Hour {
				t.Errorf("%s: query %s: interval %s outside %s..24h", f, q.Name, q.Interval, lo)
			}
			if q.Description == "" || q.Platform == "" {
				t.Errorf("%s: query %s: needs a description and a platform", f, q.Name)
			}
		}
	}
}
