package detect

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rule is one parsed Sigma detection rule.
type Rule struct {
	ID          string
	Title       string
	Status      string
	Description string
	// Level is one of informational, low, medium, high, critical; it is
	// medium when the rule omits it, so that every alert has a severity.
	Level          string
	Author         string
	Date           string
	Modified       string
	Tags           []string
	References     []string
	FalsePositives []string
	Fields         []string
	LogSource      LogSource
	Detection      *Detection
	// File is the path the rule was read from, as given to ParseRule.
	File string
	// Warnings are flaws that do not change what the rule matches, such as
	// metadata of the wrong shape, or a field its log source lacks that
	// only a negated selection names; the rule loads with them.
	Warnings ErrorList

	idPos, logSourcePos Pos
	// tagPos is where each of Tags is written.
	tagPos []Pos
	// maps are the log-source mappings the rule runs on, set by checkRule.
	maps []*LogSourceMapping
	// alert is what its alerts say of the rule, encoded when it is added
	// to an engine.
	alert *alertMeta
}

// LogSource is a Sigma logsource; empty members are absent from the rule.
type LogSource struct {
	Product  string `yaml:"product"`
	Category string `yaml:"category"`
	Service  string `yaml:"service"`
}

func (l LogSource) String() string {
	var parts []string
	for _, kv := range [][2]string{{"product", l.Product}, {"category", l.Category}, {"service", l.Service}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+": "+kv[1])
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Levels lists the Sigma levels from least to most severe.
var Levels = []string{"informational", "low", "medium", "high", "critical"}

var statuses = []string{"stable", "test", "experimental", "deprecated", "unsupported"}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ParseRule parses one Sigma rule file. The error, when not nil, is an
// ErrorList with every problem found, each with file:line:col.
func ParseRule(file string, src []byte) (*Rule, error) {
	p := &ruleParser{nodeParser: nodeParser{file: file}, src: src}
	root, err := p.decodeSingle(src)
	if err != nil {
		return nil, err
	}
	r := p.parseRule(root)
	if err := p.err(); err != nil {
		return nil, err
	}
	return r, nil
}

type ruleParser struct {
	nodeParser
	src    []byte
	broken []string // selections that had errors
}

func (p *ruleParser) parseRule(root *yaml.Node) *Rule {
	pairs, _ := p.mapping(root, "rule")
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	r := &Rule{File: p.file, Level: "medium"}
	seen := map[string]bool{}
	for _, kv := range pairs {
		seen[kv.key] = true
		p.ruleKey(r, kv)
	}
	for _, key := range []string{"title", "id", "logsource", "detection"} {
		if !seen[key] {
			p.errorf(root, "missing required key %q", key)
		}
	}
	r.Warnings = append(r.Warnings, p.warns...)
	return r
}

// metadataKeys describe a rule without changing what it matches: a flaw in
// one is a warning (the rule loads), while a flaw in the logic is an error.
var metadataKeys = map[string]bool{
	"status": true, "description": true, "level": true, "author": true, "date": true, "modified": true,
	"tags": true, "references": true, "falsepositives": true, "fields": true,
}

// ruleKey parses one top-level key. Keys it does not know are ignored, as
// Sigma allows custom attributes.
func (p *ruleParser) ruleKey(r *Rule, kv pair) {
	if metadataKeys[kv.key] {
		p.lenient(func() { p.ruleKeyStrict(r, kv) })
		if r.Level == "" {
			r.Level = "medium"
		}
		return
	}
	p.ruleKeyStrict(r, kv)
}

func (p *ruleParser) ruleKeyStrict(r *Rule, kv pair) {
	v := kv.value
	switch kv.key {
	case "title":
		r.Title, _ = p.str(v, "title")
	case "id":
		r.ID, _ = p.str(v, "id")
		r.idPos = nodePos(v)
		if r.ID != "" && !uuidRE.MatchString(r.ID) {
			// Sigma asks for a UUID but an ID of another shape still
			// names the rule uniquely: a warning, not a refusal.
			p.lenient(func() { p.errorf(v, "id %q is not a UUID; it is used as it is", r.ID) })
		}
	case "status":
		r.Status = p.oneOf(v, "status", statuses)
	case "description":
		r.Description, _ = p.str(v, "description")
	case "level":
		r.Level = p.oneOf(v, "level", Levels)
	case "author":
		r.Author, _ = p.str(v, "author")
	case "date":
		r.Date, _ = p.str(v, "date")
	case "modified":
		r.Modified, _ = p.str(v, "modified")
	case "tags":
		r.Tags, _ = p.strList(v, "tags")
		r.tagPos = itemPos(v, len(r.Tags))
	case "references":
		r.References, _ = p.strList(v, "references")
	case "falsepositives":
		r.FalsePositives, _ = p.strList(v, "falsepositives")
	case "fields":
		r.Fields, _ = p.strList(v, "fields")
	case "logsource":
		r.LogSource = p.logSource(v)
		r.logSourcePos = nodePos(v)
	case "detection":
		r.Detection = p.detection(v)
	case "correlation":
		p.errorf(kv.keyN, "a correlation rule is not a single-event rule: package correlate reads it (load it through ParseRules)")
	case "filter":
		p.errorf(kv.keyN, "filter rules are not supported yet")
	}
}

func (p *ruleParser) oneOf(n *yaml.Node, what string, allowed []string) string {
	s, ok := p.str(n, what)
	if !ok {
		return ""
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	p.errorf(n, "%s %q is not one of %s", what, s, strings.Join(allowed, ", "))
	return ""
}

// logSource parses a logsource; "definition" and other keys only document
// the source and are ignored.
func (p *ruleParser) logSource(n *yaml.Node) LogSource {
	var ls LogSource
	pairs, ok := p.mapping(n, "logsource")
	found := false
	for _, kv := range pairs {
		dst := ls.field(kv.key)
		if dst == nil {
			continue
		}
		found = true
		*dst, _ = p.str(kv.value, "logsource "+kv.key)
		*dst = strings.ToLower(*dst)
	}
	if ok && !found {
		p.errorf(n, "logsource needs at least one of product, category, service")
	}
	return ls
}

// condPos maps a byte offset inside a condition scalar to its position in
// the file. Quoted scalars are assumed to hold no escapes before the offset,
// and folded block scalars are treated like literal ones; both are rare in
// conditions and at worst move the column a little.
func (p *ruleParser) condPos(n *yaml.Node, off int) Pos {
	text := n.Value
	if off > len(text) {
		off = len(text)
	}
	before := text[:off]
	runes := func(s string) int { return len([]rune(s)) }
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		nl := strings.Count(before, "\n")
		line := n.Line + 1 + nl
		lineStart := strings.LastIndexByte(before, '\n') + 1
		return Pos{Line: line, Col: p.blockIndent(n.Line) + 1 + runes(before[lineStart:])}
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		return Pos{Line: n.Line, Col: n.Column + 1 + runes(before)}
	}
	return Pos{Line: n.Line, Col: n.Column + runes(before)}
}

// blockIndent returns the indentation of a block scalar: that of its first
// non-blank content line, which starts after the header line.
func (p *ruleParser) blockIndent(header int) int {
	lines := strings.Split(string(p.src), "\n")
	for i := header; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\r")
		if strings.TrimSpace(l) != "" {
			return len(l) - len(strings.TrimLeft(l, " "))
		}
	}
	return 0
}

func (r *Rule) String() string {
	return fmt.Sprintf("%s (%s)", r.Title, r.ID)
}
