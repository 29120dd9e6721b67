//go:build cgo

package yara

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/test/shareddata"
)

// TestReferenceMatches scans the harmless targets with each rule set and
// compares every rule × file hit with what the yara 4.2.3 command found
// (yara-4.2.3-reference-matches.tsv: ruleset, rule_file, rule, sample).
// The reference compiled each file on its own with the external variables
// defined empty, which FileVariables=false reproduces, and left out the
// files of yara-4.2.3-compile-errors.txt and the index files. Every
// target is compared, x.txt (a megabyte of "X") too: the scanner's fast
// mode verifies Yara-Rules' base64 and domain expressions there once
// rather than at every offset, which took the yara command minutes and
// hundreds of MB, and still finds both rules the reference found.
func TestReferenceMatches(t *testing.T) {
	data := filepath.Join(sharedData(t), "yara")
	for _, c := range []struct{ ruleset, root string }{
		{"signature-base", "signature-base/yara"},
		{"yara-rules", "yara-rules"},
	} {
		t.Run(c.ruleset, func(t *testing.T) { testReference(t, data, c.ruleset, c.root) })
	}
}

func testReference(t *testing.T, data, ruleset, root string) {
	want := readReference(t, filepath.Join(data, "yara-4.2.3-reference-matches.tsv"), ruleset)
	skip := readCompileErrors(t, filepath.Join(data, "yara-4.2.3-compile-errors.txt"), ruleset)

	r, errs := Compile(hideFS{os.DirFS(data), skip}, root)
	indexes := 0
	for _, err := range errs {
		if errors.Is(err, ErrIndex) {
			indexes++
			continue
		}
		t.Errorf("compile: %v", err) // the yara command compiled every file not skipped
	}
	if r == nil {
		t.Fatal("nothing compiled")
	}
	targets := targetFiles(t, filepath.Join(data, "targets"))
	cfg := DefaultConfig()
	cfg.FileVariables, cfg.MaxCPUPercent, cfg.FileTimeout = false, 0, time.Hour
	var got []string
	st, err := r.ScanPaths(context.Background(), targets, cfg, func(f Finding) {
		got = append(got, f.Namespace+"\t"+f.Rule+"\tsamples/targets/"+filepath.Base(f.Path))
	})
	if err != nil || st.Errors > 0 {
		t.Fatalf("scan: %v %+v", err, st)
	}
	slices.Sort(got)
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("extra match, not in the reference: %s", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing match the reference has: %s", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d matches, reference %d", len(got), len(want))
	}
	t.Logf("%s: %d rules (%d files left out as the reference did, %d index files), %d files scanned, %d matches, reference %d",
		ruleset, r.Count(), len(skip), indexes, st.Files, len(got), len(want))
}

// targetFiles lists the files of dir to scan.
func targetFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		shareddata.Missing(t, "targets missing: %v", err)
	}
	var files []string
	for _, e := range ents {
		files = append(files, filepath.Join(dir, e.Name()))
	}
	return files
}

func readReference(t *testing.T, file, ruleset string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		shareddata.Missing(t, "reference missing: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var out []string
	for line := 1; sc.Scan(); line++ {
		cols := strings.Split(sc.Text(), "\t")
		if line == 1 {
			if strings.Join(cols, ",") != "ruleset,rule_file,rule,sample" {
				t.Fatalf("%s:1: unexpected header %q", file, sc.Text())
			}
			continue
		}
		if len(cols) != 4 {
			t.Fatalf("%s:%d: %d columns, want 4", file, line, len(cols))
		}
		if cols[0] == ruleset {
			out = append(out, strings.Join(cols[1:], "\t"))
		}
	}
	slices.Sort(out)
	return out
}

// readCompileErrors returns the rule files of ruleset the yara command
// rejected; each line is "path: message".
func readCompileErrors(t *testing.T, file, ruleset string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		shareddata.Missing(t, "compile error list missing: %v", err)
	}
	skip := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if p, _, ok := strings.Cut(l, ": "); ok && strings.HasPrefix(p, ruleset+"/") {
			skip[p] = true
		}
	}
	return skip
}

// hideFS leaves some files out of directory listings.
type hideFS struct {
	fs.FS
	hide map[string]bool
}

func (h hideFS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := fs.ReadDir(h.FS, name)
	return slices.DeleteFunc(ents, func(e fs.DirEntry) bool { return h.hide[path.Join(name, e.Name())] }), err
}
