package detect

import (
	"fmt"
	"slices"
	"strings"

	"lachan/internal/winevent"
)

// checkRule checks that a parsed rule's log source is mapped and picks the
// mappings it runs on. A field a mapping's events lack is absent, which
// Sigma reads as null: a test of it fails. A mapping on which the rule can
// still match with those tests failing is kept (the rule's other
// alternatives may match, and a filter of an absent field passes, which
// the rule loads with a warning about); a rule no mapping can serve is
// refused, with the fields that stop it.
func checkRule(r *Rule, sources LogSources) (*Rule, error) {
	p := r.File
	maps := sources.Resolve(r.LogSource)
	if len(maps) == 0 {
		return nil, &Error{File: p, Pos: r.logSourcePos, Msg: fmt.Sprintf("logsource %s is not mapped to any dataset", r.LogSource)}
	}
	negOnly := negatedOnly(r.Detection)
	var usable []*LogSourceMapping
	var refusals, warns ErrorList
	for _, m := range maps {
		if m.byChannel() {
			var refusal, warn *Error
			if m, warn, refusal = forChannels(r, m, negOnly, sources); refusal != nil {
				refusals = append(refusals, refusal)
				continue
			}
			if warn != nil {
				warns = append(warns, warn)
			}
		}
		var hard, soft ErrorList
		missing := missingFields(r, m)
		absent := map[string]bool{}
		for _, u := range missing {
			absent[u.name] = true
		}
		canMatch := len(missing) == 0 || mayMatch(r.Detection, absent)
		for _, u := range missing {
			e := &Error{File: p, Pos: u.pos, Msg: fmt.Sprintf("field %q is not provided by logsource %s (datasets %s)", u.name, m.LogSource, strings.Join(m.Datasets, ", "))}
			switch {
			case !canMatch:
				hard = append(hard, e)
			case u.sels.allIn(negOnly):
				e.Msg += "; only a negated selection names it, so it is taken as absent"
				soft = append(soft, e)
			}
		}
		if !canMatch {
			refusals = append(refusals, hard...)
			continue
		}
		usable = append(usable, m)
		warns = append(warns, soft...)
	}
	if len(usable) == 0 {
		return nil, dedupe(refusals)
	}
	for _, m := range usable {
		for _, ds := range m.DatasetsFor(r.LogSource) {
			if !datasetRE.MatchString(ds) {
				return nil, &Error{File: p, Pos: r.logSourcePos, Msg: fmt.Sprintf("logsource %s gives dataset %q, not a lower-case dotted name", r.LogSource, ds)}
			}
		}
	}
	r.maps = usable
	r.Warnings = append(r.Warnings, dedupe(warns)...)
	return r, nil
}

// dedupe drops errors that repeat a position and message, as the same
// field missing from two mappings of one source would.
func dedupe(l ErrorList) ErrorList {
	seen := map[string]bool{}
	var out ErrorList
	for _, e := range l {
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// missingField is a field a rule tests that a mapping's events lack, with
// the selections that name it.
type missingField struct {
	name string
	pos  Pos
	sels selSet
}

type selSet map[string]bool

func (s selSet) allIn(other selSet) bool {
	for k := range s {
		if !other[k] {
			return false
		}
	}
	return len(s) > 0
}

// missingFields lists, in rule order, every field the rule tests that m
// declares its events do not carry.
func missingFields(r *Rule, m *LogSourceMapping) []missingField {
	var out []missingField
	at := map[string]int{}
	for _, s := range r.Detection.Selections {
		for _, alt := range s.Alternatives {
			for _, ft := range alt {
				names := []string{ft.Field}
				if ft.mods.fieldRef {
					for _, v := range ft.Values {
						names = append(names, v.Raw)
					}
				}
				for _, name := range names {
					if name == "" || m.knows(name) {
						continue
					}
					i, ok := at[name]
					if !ok {
						i = len(out)
						at[name] = i
						out = append(out, missingField{name: name, pos: ft.Pos, sels: selSet{}})
					}
					out[i].sels[s.Name] = true
				}
			}
		}
	}
	return out
}

// negatedOnly returns the selections every condition names only under an
// odd number of "not"s: the rule's filters.
func negatedOnly(d *Detection) selSet {
	pos, neg := selSet{}, selSet{}
	var walk func(e Expr, negated bool)
	walk = func(e Expr, negated bool) {
		mark := pos
		if negated {
			mark = neg
		}
		switch x := e.(type) {
		case *AndExpr:
			for _, t := range x.Terms {
				walk(t, negated)
			}
		case *OrExpr:
			for _, t := range x.Terms {
				walk(t, negated)
			}
		case *NotExpr:
			walk(x.X, !negated)
		case *IdentExpr:
			mark[x.Name] = true
		case *OfExpr:
			for _, s := range d.matching(x.Pattern) {
				mark[s.Name] = true
			}
		}
	}
	for _, c := range d.Conditions {
		walk(c.Expr, false)
	}
	out := selSet{}
	for k := range neg {
		if !pos[k] {
			out[k] = true
		}
	}
	return out
}

// tri is a truth value that may be unknown.
type tri int8

const (
	triFalse tri = iota
	triUnknown
	triTrue
)

// mayMatch reports whether some event lacking the absent fields can
// satisfy a condition: a test of an absent field fails (unless it accepts
// null), a selection fails when each of its alternatives has such a test,
// and everything else may go either way.
func mayMatch(d *Detection, absent map[string]bool) bool {
	sel := map[string]tri{}
	for _, s := range d.Selections {
		sel[s.Name] = selectionWhenAbsent(s, absent)
	}
	var eval func(e Expr) tri
	eval = func(e Expr) tri {
		switch x := e.(type) {
		case *AndExpr:
			out := triTrue
			for _, t := range x.Terms {
				out = min(out, eval(t))
			}
			return out
		case *OrExpr:
			out := triFalse
			for _, t := range x.Terms {
				out = max(out, eval(t))
			}
			return out
		case *NotExpr:
			return triTrue - eval(x.X)
		case *IdentExpr:
			if v, ok := sel[x.Name]; ok {
				return v
			}
		case *OfExpr:
			var terms []Expr
			for _, s := range d.matching(x.Pattern) {
				terms = append(terms, &IdentExpr{Name: s.Name})
			}
			if x.All {
				return eval(&AndExpr{Terms: terms})
			}
			return eval(&OrExpr{Terms: terms})
		}
		return triUnknown
	}
	for _, c := range d.Conditions {
		if eval(c.Expr) != triFalse {
			return true
		}
	}
	return false
}

func selectionWhenAbsent(s *Selection, absent map[string]bool) tri {
	for _, alt := range s.Alternatives {
		fails := false
		for _, ft := range alt {
			if absent[ft.Field] && !acceptsNull(ft) {
				fails = true
				break
			}
		}
		if !fails {
			return triUnknown
		}
	}
	return triFalse
}

func acceptsNull(ft *FieldTest) bool {
	for _, m := range ft.Modifiers {
		if m == "exists" {
			return true // exists: false holds of an absent field
		}
	}
	for _, v := range ft.Values {
		if v.Null {
			return true
		}
	}
	return false
}

// forChannels returns a copy of a source read by channel (a Windows rule
// that names only its product) whose datasets are those of the channels
// the rule's detection tests with Channel equal to a value outside its
// filters. A rule that names no channel (a keyword search over any Windows
// log) runs on every Windows channel the mapping knows, with a warning;
// without such channels it is refused.
func forChannels(r *Rule, m *LogSourceMapping, negOnly selSet, sources LogSources) (*LogSourceMapping, *Error, *Error) {
	datasets := namedChannels(r, negOnly)
	var warn *Error
	if len(datasets) == 0 {
		datasets = sources.windowsDatasets()
		if len(datasets) == 0 {
			return nil, nil, &Error{File: r.File, Pos: r.logSourcePos, Msg: fmt.Sprintf("logsource %s is read from the channels the detection names, and it names none (a selection testing Channel)", r.LogSource)}
		}
		warn = &Error{File: r.File, Pos: r.logSourcePos, Msg: fmt.Sprintf("logsource %s names no channel and the detection tests none: the rule runs on every Windows channel the log-source mapping knows (%d datasets)", r.LogSource, len(datasets))}
	}
	cp := *m
	cp.Datasets = datasets
	return &cp, warn, nil
}

// namedChannels returns the datasets of the channels r's detection tests
// with Channel equal to a value, outside its filters.
func namedChannels(r *Rule, negOnly selSet) []string {
	var datasets []string
	for _, s := range r.Detection.Selections {
		if negOnly[s.Name] {
			continue
		}
		for _, alt := range s.Alternatives {
			for _, ft := range alt {
				if ft.Field != "Channel" || len(ft.Modifiers) > 0 {
					continue
				}
				for _, v := range ft.Values {
					if v.Null || strings.ContainsAny(v.Raw, "*?") {
						continue
					}
					if ds := winevent.DatasetFor(v.Raw); !slices.Contains(datasets, ds) {
						datasets = append(datasets, ds)
					}
				}
			}
		}
	}
	return datasets
}

// windowsDatasets returns, sorted, every Windows dataset a source names
// outright (not a template): the channels the mapping knows.
func (s LogSources) windowsDatasets() []string {
	var out []string
	for _, m := range s {
		if m.LogSource.Product != "windows" {
			continue
		}
		for _, d := range m.Datasets {
			if !strings.Contains(d, "{") && strings.HasPrefix(d, "windows.") && !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	slices.Sort(out)
	return out
}
