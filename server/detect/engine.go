package detect

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"lachan/internal/event"
)

// LogSourcesFile is the name of the mapping file that Load skips when it
// lies among the rules.
const LogSourcesFile = "logsources.yml"

// Engine holds compiled rules indexed by event dataset. It is immutable once
// loaded, so Match may be called from any number of goroutines.
type Engine struct {
	rules     []*Rule
	byDataset map[string][]compiled
}

// compiled is a rule compiled for one log-source mapping.
type compiled struct {
	rule *Rule
	cond node
}

// Match is one rule firing on one event.
type Match struct {
	Rule *Rule
	// Fields are the event fields, by event field name, that satisfied the
	// selections that made the rule fire.
	Fields map[string]any
}

// Load parses and compiles every rule file (*.yml, *.yaml) under root,
// skipping the log-source file and test-case files (*.tests.yml). A rule with
// errors, or whose logsource no mapping covers, is left out and its errors
// returned; the other rules still load.
func Load(fsys fs.FS, root string, sources LogSources) (*Engine, []error) {
	e := &Engine{byDataset: map[string][]compiled{}}
	var errs []error
	ids := map[string]string{}
	walkErr := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, fmt.Errorf("walk %s: %w", p, err))
			return nil
		}
		if d.IsDir() || !isRuleFile(p) {
			return nil
		}
		r, err := loadRule(fsys, p, sources)
		if err != nil {
			errs = flatten(errs, err)
			return nil
		}
		if first, dup := ids[r.ID]; dup {
			errs = append(errs, &Error{File: p, Pos: r.idPos, Msg: fmt.Sprintf("duplicate rule id %q (first used in %s)", r.ID, first)})
			return nil
		}
		ids[r.ID] = p
		e.add(r, sources)
		return nil
	})
	if walkErr != nil {
		errs = append(errs, fmt.Errorf("walk %s: %w", root, walkErr))
	}
	return e, errs
}

func isRuleFile(p string) bool {
	base := path.Base(p)
	ext := path.Ext(base)
	if ext != ".yml" && ext != ".yaml" {
		return false
	}
	stem := strings.TrimSuffix(base, ext)
	return base != LogSourcesFile && !strings.HasSuffix(stem, ".tests")
}

func loadRule(fsys fs.FS, p string, sources LogSources) (*Rule, error) {
	src, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("read rule %s: %w", p, err)
	}
	r, err := ParseRule(p, src)
	if err != nil {
		return nil, err
	}
	if len(sources.Resolve(r.LogSource)) == 0 {
		return nil, &Error{File: p, Pos: r.logSourcePos, Msg: fmt.Sprintf("logsource %s is not mapped to any dataset", r.LogSource)}
	}
	return r, nil
}

// add compiles a rule once per mapping that covers it, since each mapping
// may name its fields differently.
func (e *Engine) add(r *Rule, sources LogSources) {
	e.rules = append(e.rules, r)
	done := map[string]bool{}
	for _, m := range sources.Resolve(r.LogSource) {
		c := compiled{rule: r, cond: compileRule(r, m)}
		for _, ds := range m.Datasets {
			// The first mapping wins a dataset, so a rule fires once per event.
			if !done[ds] {
				done[ds] = true
				e.byDataset[ds] = append(e.byDataset[ds], c)
			}
		}
	}
}

// Rules returns the loaded rules in file order. The slice is the engine's;
// callers must not change it.
func (e *Engine) Rules() []*Rule {
	return e.rules
}

// Match runs every rule that covers the event's dataset and returns those
// that fire, in rule file order.
func (e *Engine) Match(ev event.Event) []Match {
	var out []Match
	ctx := &evalCtx{ev: &ev}
	for _, c := range e.byDataset[ev.Dataset] {
		if !c.cond.eval(ctx) {
			continue
		}
		fields := map[string]any{}
		collect(c.cond, ctx, fields)
		out = append(out, Match{Rule: c.rule, Fields: fields})
	}
	return out
}
