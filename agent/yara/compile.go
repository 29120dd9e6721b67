//go:build cgo

package yara

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	goyara "lachan/agent/yara/libyara"
)

// externals are the variables published rule sets expect; they must exist
// at compile time and are set per file when scanning.
var externals = []string{"filename", "filepath", "extension", "filetype", "owner"}

// Rules is a compiled rule set. It is safe for concurrent scans: each scan
// uses its own libyara scanner.
type Rules struct {
	rules       *goyara.Rules
	count       int
	fingerprint string
	// fsys and files are where the rules came from, file by file, so
	// that a file whose scan runs out of time can be scanned again with
	// each rule file alone to name the one at fault (runaway.go).
	fsys  fs.FS
	files []string
}

// Fingerprint returns a hash of the sources the rules were compiled from
// (every file, every file it included, and the external variables), so
// that a cache can tell whether a result came from the same rule set.
func (r *Rules) Fingerprint() string {
	if r == nil {
		return ""
	}
	return r.fingerprint
}

// Count returns the number of rules that can report a match (private
// rules are not counted).
func (r *Rules) Count() int {
	if r == nil {
		return 0
	}
	return r.count
}

// WriteCompiled writes the compiled rules in libyara's own format, the
// one `yarac` writes and `yara -C` reads.
func (r *Rules) WriteCompiled(w io.Writer) error {
	if r == nil || r.rules == nil {
		return errors.New("yara: no rules compiled")
	}
	if err := r.rules.Write(w); err != nil {
		return fmt.Errorf("yara: write compiled rules: %w", err)
	}
	return nil
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
// file and line; the result is nil only when no file compiled. Index files
// (includes only, of files compiled anyway) are left out too, each noted
// with an *IndexFile error, so that no rule is loaded twice.
func Compile(fsys fs.FS, root string) (*Rules, []error) {
	return compile(fsys, root, true)
}

// CompileDirOnce compiles dir as CompileDir does, for rules that serve one
// scan and are then thrown away (lachan-agent scan): they are not
// reloaded compact. Compacting pays off over an agent's lifetime, but
// costs a tenth of a second or more for a rule set like Yara-Rules, and
// for a moment holds both copies: its peak is higher than what it saves.
func CompileDirOnce(dir string) (*Rules, []error) {
	return compile(os.DirFS(dir), ".", false)
}

func compile(fsys fs.FS, root string, compacted bool) (*Rules, []error) {
	limitArenas() // before the compiler's threads make arenas of their own
	files, errs := readRuleFiles(fsys, root)
	files, notes := dropIndexes(fsys, path.Clean(root), files)
	errs = append(errs, notes...)
	good, bad, c, h := checkFiles(fsys, files)
	errs = append(errs, bad...)
	if len(good) == 0 {
		if len(files) == 0 {
			errs = append(errs, fmt.Errorf("no YARA rule files (*.yar, *.yara) under %s", root))
		}
		return nil, errs
	}
	if c != nil { // every file compiled in one go: that compiler is the result
		rules, err := finish(fsys, c, h, good, compacted)
		if err != nil {
			return nil, append(errs, err)
		}
		return rules, errs
	}
	rules, more := compileAll(fsys, good, compacted)
	return rules, append(errs, more...)
}

// checkFiles finds the files that compile. libyara's compiler is unusable
// after an error, and a file's rules live in its own namespace, so a file
// compiles beside others exactly when it compiles alone: the files are
// added one after another to one compiler, and a new one is started after
// each file that fails. That parses each file once and makes one compiler
// per failure, rather than one per file (half of Yara-Rules' compile
// time). When no file failed, the compiler (and the fingerprint of what
// went into it) is returned to be finished; otherwise c is nil and the
// good files are compiled together again.
func checkFiles(fsys fs.FS, files []ruleFile) (good []ruleFile, errs []error, c *goyara.Compiler, h hash.Hash) {
	failed := false
	for _, f := range files {
		if err := checkModules(f.path, f.src, goyara.Modules, goyara.UnsetFields); err != nil {
			errs = append(errs, err) // refused before libyara saw it: c is still good
			continue
		}
		if c == nil {
			var err error
			if c, err = newCompiler(); err != nil {
				return nil, append(errs, err), nil, nil
			}
			h = newSourceHash()
		}
		if err := addFile(c, fsys, f, h); err != nil {
			errs, failed = append(errs, err), true
			c.Destroy()
			c = nil
			continue
		}
		good = append(good, f)
	}
	if failed && c != nil {
		c.Destroy()
		c = nil
	}
	return good, errs, c, h
}

// compileAll compiles the files together. Each compiled before, so a
// failure here is unexpected; the file at fault is dropped and the rest
// compiled again rather than losing everything.
func compileAll(fsys fs.FS, files []ruleFile, compacted bool) (*Rules, []error) {
	var errs []error
	for len(files) > 0 {
		c, err := newCompiler()
		if err != nil {
			return nil, append(errs, err)
		}
		bad := -1
		h := newSourceHash()
		for i, f := range files {
			if err := addFile(c, fsys, f, h); err != nil {
				errs, bad = append(errs, err), i
				break
			}
		}
		if bad >= 0 {
			c.Destroy()
			files = append(files[:bad:bad], files[bad+1:]...)
			continue
		}
		rules, err := finish(fsys, c, h, files, compacted)
		if err != nil {
			return nil, append(errs, err)
		}
		return rules, errs
	}
	return nil, errs
}

// finish takes the rules out of c (and destroys it), compacts them if
// asked, and counts them.
func finish(fsys fs.FS, c *goyara.Compiler, h hash.Hash, files []ruleFile, compacted bool) (*Rules, error) {
	yr, err := c.GetRules()
	c.Destroy()
	if err != nil {
		return nil, fmt.Errorf("yara: %w", err)
	}
	if compacted {
		if yr, err = compact(yr); err != nil {
			return nil, err
		}
	}
	n := 0
	for _, r := range yr.GetRules() {
		if !r.IsPrivate() {
			n++
		}
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.path
	}
	return &Rules{rules: yr, count: n, fingerprint: hex.EncodeToString(h.Sum(nil)), fsys: fsys, files: paths}, nil
}

// compact reloads the rules from their saved form. The compiler grows its
// buffers by doubling and leaves the C heap fragmented; a loaded rule set
// is sized exactly, which matters where all of a ruleset like
// signature-base must fit an agent's memory budget.
func compact(yr *goyara.Rules) (*goyara.Rules, error) {
	// Through a pipe rather than a buffer: the saved form is tens of
	// megabytes that would otherwise sit in the Go heap at the peak.
	trimHeap() // the compiler's leftovers, before the copy joins them
	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		// libyara reads and writes in small pieces; batch them so that the
		// two sides do not meet once per field.
		bw := bufio.NewWriterSize(pw, 1<<20)
		err := yr.Write(bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		werr <- err
	}()
	out, err := goyara.ReadRules(bufio.NewReaderSize(pr, 1<<20))
	pr.CloseWithError(errors.New("reader done")) // unblock the writer if the reader failed
	if wErr := <-werr; wErr != nil && err == nil {
		err = wErr
	}
	yr.Destroy()
	trimHeap()
	if err != nil {
		if out != nil {
			out.Destroy()
		}
		return nil, fmt.Errorf("yara: reload compiled rules: %w", err)
	}
	return out, nil
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
		if d.IsDir() || !isRuleFile(p) {
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

// newSourceHash starts a fingerprint; a change to the list of external
// variables changes what the rules can see, so it is part of it.
func newSourceHash() hash.Hash {
	h := sha256.New()
	writeField(h, "lachan yara rules v1")
	for _, v := range externals {
		writeField(h, v)
	}
	return h
}

// writeField writes s length-prefixed, so that no two different sequences
// of fields hash alike.
func writeField(h hash.Hash, s string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	h.Write([]byte(s))
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
func addFile(c *goyara.Compiler, fsys fs.FS, f ruleFile, h hash.Hash) error {
	if h != nil {
		writeField(h, f.path)
		writeField(h, f.src)
	}
	inc := &includer{fsys: fsys, top: f.path, seen: map[string]string{}, hash: h}
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
	refused  []error   // included files that need what this libyara lacks
	hash     hash.Hash // nil, or the fingerprint that included files join
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
	if err := checkModules(p, string(b), goyara.Modules, goyara.UnsetFields); err != nil {
		in.refused = append(in.refused, err)
		return nil
	}
	in.seen[name] = p
	if in.hash != nil {
		writeField(in.hash, p)
		writeField(in.hash, string(b))
	}
	return b
}

func (in *includer) compileError(c *goyara.Compiler, err error) error {
	errs := append([]error(nil), in.refused...)
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
