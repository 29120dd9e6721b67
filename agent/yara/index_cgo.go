//go:build cgo

package yara

import (
	"io/fs"
	"path"
	"strings"
)

// dropIndexes leaves out the index files among files: those made only of
// includes, every one of which names a rule file under root, which the
// same walk compiles on its own (or reports if it does not compile).
func dropIndexes(fsys fs.FS, root string, files []ruleFile) ([]ruleFile, []error) {
	have := make(map[string]bool, len(files))
	for _, f := range files {
		have[f.path] = true
	}
	under := func(p string) bool {
		if !fs.ValidPath(p) || !isRuleFile(p) || !(root == "." || p == root || strings.HasPrefix(p, root+"/")) {
			return false
		}
		if have[p] {
			return true
		}
		fi, err := fs.Stat(fsys, p)
		return err == nil && fi.Mode().IsRegular()
	}
	var kept []ruleFile
	var notes []error
	for _, f := range files {
		names, ok := IncludesOnly(f.src)
		for _, n := range names {
			if strings.HasPrefix(n, "/") || !under(path.Join(path.Dir(f.path), n)) {
				ok = false
				break
			}
		}
		if ok {
			notes = append(notes, &IndexFile{File: f.path, Includes: len(names)})
			continue
		}
		kept = append(kept, f)
	}
	return kept, notes
}
