package correlate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"lachan/server/detect"
)

// Type is a correlation type of the Sigma specification.
type Type string

// The supported correlation types.
const (
	EventCount      Type = "event_count"
	ValueCount      Type = "value_count"
	Temporal        Type = "temporal"
	TemporalOrdered Type = "temporal_ordered"
)

// Rule is one parsed correlation rule. Refs, GroupBy and Aliases are as
// written; Set resolves them against the loaded rules.
type Rule struct {
	ID          string
	Name        string
	Title       string
	Status      string
	Description string
	Level       string
	Tags        []string
	Type        Type
	// Refs are the rules correlated, by ID or name, in the written order
	// (the order temporal_ordered requires).
	Refs     []string
	GroupBy  []string
	Timespan time.Duration
	Cond     Condition
	// Aliases maps an alias (usable in GroupBy) to, per referenced rule
	// name, the event field that holds its value.
	Aliases map[string]map[string]string
	// Generate keeps the alerts of the referenced rules; by default only
	// the correlation's own alerts are raised.
	Generate bool
	File     string
	Pos      detect.Pos
}

// Condition is a conjunction of count bounds; a nil bound is absent.
type Condition struct {
	GT, GTE, LT, LTE, EQ, NEQ *int64
	// Field names the field(s) whose distinct values value_count counts.
	Field []string
}

// Holds reports whether n satisfies every bound.
func (c Condition) Holds(n int64) bool {
	ok := func(b *int64, f func(int64) bool) bool { return b == nil || f(*b) }
	return ok(c.GT, func(v int64) bool { return n > v }) &&
		ok(c.GTE, func(v int64) bool { return n >= v }) &&
		ok(c.LT, func(v int64) bool { return n < v }) &&
		ok(c.LTE, func(v int64) bool { return n <= v }) &&
		ok(c.EQ, func(v int64) bool { return n == v }) &&
		ok(c.NEQ, func(v int64) bool { return n != v })
}

// Monotone reports whether the condition has only lower bounds: then a
// count that satisfies it keeps satisfying it as events arrive, so the
// correlation fires at once instead of when its window closes.
func (c Condition) Monotone() bool {
	return c.LT == nil && c.LTE == nil && c.EQ == nil && c.NEQ == nil
}

// cap is how many observations a key needs to keep to decide the
// condition: one more than the largest bound, since beyond it no answer
// changes.
func (c Condition) cap() int {
	var m int64
	for _, b := range []*int64{c.GT, c.GTE, c.LT, c.LTE, c.EQ, c.NEQ} {
		if b != nil && *b > m {
			m = *b
		}
	}
	return int(m) + 1
}

// BaseRef is a non-correlation document of a rule file: the detection rule
// a correlation may name.
type BaseRef struct {
	ID, Name, Title, File string
	Pos                   detect.Pos
}

// maxBound keeps conditions within what memory per key can hold.
const maxBound = 100000

var (
	timespanRE = regexp.MustCompile(`^([1-9][0-9]{0,8})([smhd])$`)
	levels     = []string{"informational", "low", "medium", "high", "critical"}
	statuses   = []string{"stable", "test", "experimental", "deprecated", "unsupported"}
)

// IsCorrelation reports whether a YAML document root is a correlation rule
// (has a top-level "correlation" key); package detect skips such documents.
func IsCorrelation(root *yaml.Node) bool {
	if root == nil || root.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "correlation" {
			return true
		}
	}
	return false
}

// ParseFile parses every YAML document of a rule file. It returns the
// correlation rules, the other documents as BaseRefs, and an ErrorList
// with file:line:col for every problem; a document with errors is left out.
func ParseFile(file string, src []byte) (rules []*Rule, bases []BaseRef, err error) {
	var errs detect.ErrorList
	defer func() {
		// yaml.v3 is outside code; hostile input must not take the server down.
		if r := recover(); r != nil {
			errs = append(errs, &detect.Error{File: file, Msg: fmt.Sprintf("yaml: internal error: %v", r)})
			rules, bases, err = nil, nil, errs
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var doc yaml.Node
		if derr := dec.Decode(&doc); derr != nil {
			if !errors.Is(derr, io.EOF) {
				errs = append(errs, yamlErr(file, derr))
			}
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if !IsCorrelation(root) {
			bases = append(bases, baseRef(file, root))
			continue
		}
		p := &parser{file: file}
		r := p.rule(root)
		if len(p.errs) > 0 {
			errs = append(errs, p.errs...)
			continue
		}
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return rules, bases, errs
	}
	return rules, bases, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlErr(file string, err error) *detect.Error {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &detect.Error{File: file, Pos: detect.Pos{Line: line}, Msg: "yaml: " + m[2]}
	}
	return &detect.Error{File: file, Msg: err.Error()}
}

func baseRef(file string, root *yaml.Node) BaseRef {
	b := BaseRef{File: file, Pos: pos(root)}
	if root.Kind != yaml.MappingNode {
		return b
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			continue
		}
		switch k.Value {
		case "id":
			b.ID = v.Value
		case "name":
			b.Name = v.Value
		case "title":
			b.Title = v.Value
		}
	}
	return b
}

func pos(n *yaml.Node) detect.Pos {
	if n == nil {
		return detect.Pos{}
	}
	return detect.Pos{Line: n.Line, Col: n.Column}
}

type parser struct {
	file string
	errs detect.ErrorList
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &detect.Error{File: p.file, Pos: pos(n), Msg: fmt.Sprintf(format, args...)})
}

// pairs returns a mapping's keys and values, reporting duplicates.
func (p *parser) pairs(n *yaml.Node, what string) [][2]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping", what)
		return nil
	}
	seen := map[string]bool{}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: keys must be strings", what)
			continue
		}
		if seen[k.Value] {
			p.errorf(k, "%s: duplicate key %q", what, k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

func (p *parser) str(n *yaml.Node, what string) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Value == "" {
		p.errorf(n, "%s must be a non-empty string", what)
		return ""
	}
	return n.Value
}

// strList accepts a list of strings or a single string.
func (p *parser) strList(n *yaml.Node, what string) []string {
	if n != nil && n.Kind == yaml.ScalarNode {
		if s := p.str(n, what); s != "" {
			return []string{s}
		}
		return nil
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list of strings", what)
		return nil
	}
	var out []string
	for _, c := range n.Content {
		if s := p.str(c, what+" item"); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) oneOf(n *yaml.Node, what string, allowed []string) string {
	s := p.str(n, what)
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	if s != "" {
		p.errorf(n, "%s %q is not one of %s", what, s, strings.Join(allowed, ", "))
	}
	return ""
}

func (p *parser) rule(root *yaml.Node) *Rule {
	r := &Rule{File: p.file, Pos: pos(root), Level: "medium"}
	var corr *yaml.Node
	for _, kv := range p.pairs(root, "rule") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "title":
			r.Title = p.str(v, "title")
		case "id":
			r.ID = p.str(v, "id")
		case "name":
			r.Name = p.str(v, "name")
		case "status":
			r.Status = p.oneOf(v, "status", statuses)
		case "description":
			r.Description = p.str(v, "description")
		case "level":
			r.Level = p.oneOf(v, "level", levels)
		case "tags":
			r.Tags = p.strList(v, "tags")
		case "generate":
			if v.Kind != yaml.ScalarNode || (v.Value != "true" && v.Value != "false") {
				p.errorf(v, "generate must be true or false")
			}
			r.Generate = v.Value == "true"
		case "correlation":
			corr = v
		case "logsource", "detection":
			p.errorf(k, "a correlation rule has no %s; put the detection in its own document", k.Value)
		}
	}
	if r.Title == "" && len(p.errs) == 0 {
		p.errorf(root, "missing required key \"title\"")
	}
	p.correlation(r, corr)
	return r
}
