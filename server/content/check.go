package content

import (
	"fmt"
	"io/fs"

	"lachan/internal/querypack"
	"lachan/server/correlate"
	"lachan/server/detect"
)

// Checker checks each part of a pack with the checkers the rules will
// meet when used.
type Checker struct {
	// LogSources is the mapping Sigma rules load with.
	LogSources detect.LogSources
	// YARA compiles the YARA files of a pack and returns an error per file
	// that does not compile, naming file and line. Nil: not compiled here
	// (the server links no libyara); a warning says so.
	YARA func(fsys fs.FS) []error
	// Known are the rules the server loads besides the pack's (its
	// built-in detections), which the pack's correlation rules may name.
	Known []*detect.Rule
}

// Report is what checking a pack found: strict errors refuse the pack,
// warnings (lenient metadata) do not.
type Report struct {
	Errors   []error
	Warnings []string
	// Loaded counts what loaded of each kind: Sigma rules, correlation
	// rules, YARA files, osquery queries.
	Sigma, Correlations, YARA, Osquery int
}

// OK says whether the pack may be installed.
func (r Report) OK() bool { return len(r.Errors) == 0 }

// Check runs every strict check over p. File names in errors are the
// pack's, prefixed with the kind ("sigma/windows/x.yml:12:3: ...").
func (c Checker) Check(p Pack) Report {
	var r Report
	if n := p.Count(KindSigma); n > 0 {
		c.checkSigma(p, &r)
	}
	if n := p.Count(KindYARA); n > 0 {
		if c.YARA == nil {
			r.Warnings = append(r.Warnings, fmt.Sprintf("yara: %d files not compiled here; each agent compiles the bundle and reports a file it leaves out", n))
		} else {
			errs := c.YARA(p.FS(KindYARA))
			for _, e := range errs {
				r.Errors = append(r.Errors, fmt.Errorf("yara/%w", e))
			}
			r.YARA = n - len(errs)
		}
	}
	if n := p.Count(KindOsquery); n > 0 {
		fsys := p.FS(KindOsquery)
		for _, f := range p.Files {
			if f.Kind != KindOsquery {
				continue
			}
			q, err := querypack.Load(fsys, f.Path)
			if err != nil {
				r.Errors = append(r.Errors, fmt.Errorf("osquery/%w", err))
				continue
			}
			r.Osquery += len(q.Queries)
		}
	}
	return r
}

// checkSigma loads the Sigma files as the server would: every file that
// does not load, detection or correlation rule, is an error with its
// file:line.
func (c Checker) checkSigma(p Pack, r *Report) {
	dirs := []detect.RuleDir{{FS: p.FS(KindSigma), Root: ".", Name: "sigma"}}
	e, errs := detect.LoadDirs(dirs, c.LogSources, detect.DefaultConfig())
	set, cerrs := correlate.LoadDirs(dirs, append(append([]*detect.Rule(nil), c.Known...), e.Rules()...))
	for _, err := range append(errs, cerrs...) {
		r.Errors = append(r.Errors, err)
	}
	for _, w := range e.Warnings() {
		r.Warnings = append(r.Warnings, w.Error())
	}
	r.Sigma, r.Correlations = len(e.Rules()), set.Len()
}
