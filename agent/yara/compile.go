//go:build cgo

package yara

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	goyara "github.com/hillu/go-yara/v4"
)

// externals are the variables published rule sets expect; they must exist
// at compile time and are set per file when scanning.
var externals = []string{"filename", "filepath", "extension", "filetype", "owner"}

// Rules is a compiled rule set. It is safe for concurrent scans: each scan
// uses its own libyara scanner.
type Rules struct {
	rules *goyara.Rules
	count int
}

// Count returns the number of rules that can report a match (private
// rules are not counted).
func (r *Rules) Count() int {
	if r == nil {
		return 0
	}
	return r.count
}

// CompileDir compiles every rule file under dir.
func CompileDir(dir string) (*Rules, []error) {
	return Compile(os.DirFS(dir), ".")
}

// ruleFile is one rule file and its source.
type ruleFile struct {
	path string
	src  string
}

// Compile compiles every *.yar and *.yara file under root in fsys. Files
// that do not compile are left out and reported, each error naming the
// file and line; the result is nil only when no file compiled.
func Compile(fsys fs.FS, root string) (*Rules, []error) {
	files, errs := readRuleFiles(fsys, root)
	var good []ruleFile
	for _, f := range files {
		if err := checkFile(fsys, f); err != nil {
			errs = append(errs, err)
			continue
		}
		good = append(good, f)
	}
	if len(good) == 0 {
		if len(files) == 0 {
			errs = append(errs, fmt.Errorf("no YARA rule files (*.yar, *.yara) under %s", root))
		}
		return nil, errs
	}
	rules, more := compileAll(fsys, good)
	return rules, append(errs, more...)
}

// compileAll compiles the files together. Each compiled alone, so a
// failure here is unexpected; the file at fault is dropped and the rest
// compiled again rather than losing everything.
func compileAll(fsys fs.FS, files []ruleFile) (*Rules, []error) {
	var errs []error
	for len(files) > 0 {
		c, err := newCompiler()
		if err != nil {
			return nil, append(errs, err)
		}
		bad := -1
		for i, f := range files {
			if err := addFile(c, fsys, f); err != nil {
				errs, bad = append(errs, err), i
				break
			}
		}
		if bad >= 0 {
			c.Destroy()
			files = append(files[:bad:bad], files[bad+1:]...)
			continue
		}
		yr, err := c.GetRules()
		c.Destroy()
		if err != nil {
			return nil, append(errs, fmt.Errorf("yara: %w", err))
		}
		n := 0
		for _, r := range yr.GetRules() {
			if !r.IsPrivate() {
				n++
			}
		}
		return &Rules{rules: yr, count: n}, errs
	}
	return nil, errs
}

func readRuleFiles(fsys fs.FS, root string) ([]ruleFile, []error) {
	var files []ruleFile
	var errs []error
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, fmt.Errorf("read rules: %w", err))
			if d != nil && d.IsDir() && p != root {
				return fs.SkipDir
			}
			return nil
		}
		ext := strings.ToLower(path.Ext(p))
		if d.IsDir() || ext != ".yar" && ext != ".yara" {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read rules: %w", err))
			return nil
		}
		if strings.IndexByte(string(b), 0) >= 0 {
			errs = append(errs, &CompileError{File: p, Msg: "contains a NUL byte; not a rule file"})
			return nil
		}
		files = append(files, ruleFile{path: p, src: string(b)})
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, errs
}

// checkFile compiles f alone and returns its errors.
func checkFile(fsys fs.FS, f ruleFile) error {
	c, err := newCompiler()
	if err != nil {
		return err
	}
	defer c.Destroy()
	return addFile(c, fsys, f)
}

// newCompiler returns a compiler that knows the external variables.
func newCompiler() (*goyara.Compiler, error) {
	c, err := goyara.NewCompiler()
	if err != nil {
		return nil, fmt.Errorf("yara compiler: %w", err)
	}
	for _, v := range externals {
		if err := c.DefineVariable(v, ""); err != nil {
			c.Destroy()
			return nil, fmt.Errorf("yara compiler: define %s: %w", v, err)
		}
	}
	return c, nil
}

// addFile adds one file in its own namespace, with includes resolved
// relative to the including file inside fsys.
func addFile(c *goyara.Compiler, fsys fs.FS, f ruleFile) error {
	inc := &includer{fsys: fsys, top: f.path, seen: map[string]string{}}
	c.SetIncludeCallback(inc.resolve)
	if err := c.AddString(f.src, f.path); err != nil {
		return inc.compileError(c, err)
	}
	return nil
}

// includer reads included files. libyara names the including file by the
// name written in its include statement (or not at all for the top file),
// so seen maps written names back to the paths they were resolved to.
type includer struct {
	fsys     fs.FS
	top      string
	seen     map[string]string
	failures []string
}

func (in *includer) resolve(name, from, _ string) []byte {
	dir := path.Dir(in.top)
	if p, ok := in.seen[from]; ok && from != "" {
		dir = path.Dir(p)
	}
	p := path.Join(dir, name)
	if strings.HasPrefix(name, "/") || !fs.ValidPath(p) {
		in.failures = append(in.failures, fmt.Sprintf("include %q: only paths relative to the including file, inside the rule directory, are supported", name))
		return nil
	}
	b, err := fs.ReadFile(in.fsys, p)
	if err != nil {
		in.failures = append(in.failures, fmt.Sprintf("include %q: %v", name, err))
		return nil
	}
	in.seen[name] = p
	return b
}

func (in *includer) compileError(c *goyara.Compiler, err error) error {
	var errs []error
	for _, m := range c.Errors {
		file := in.top
		if p, ok := in.seen[m.Filename]; ok {
			file = p
		}
		errs = append(errs, &CompileError{File: file, Line: m.Line, Msg: m.Text})
	}
	for _, f := range in.failures {
		errs = append(errs, &CompileError{File: in.top, Msg: f})
	}
	if len(errs) == 0 {
		errs = append(errs, &CompileError{File: in.top, Msg: err.Error()})
	}
	return errors.Join(errs...)
}
