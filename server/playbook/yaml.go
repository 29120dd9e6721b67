package playbook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a problem in a file, at a line and column (0 when unknown).
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// parser collects positioned errors while walking one file's YAML.
type parser struct {
	file string
	errs []error
}

// maxErrors keeps the report of a hopeless file readable.
const maxErrors = 30

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	if len(p.errs) >= maxErrors {
		return
	}
	e := &Error{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses one YAML document. Aliases are refused: they let a small
// file expand without bound, and playbooks have no need of them.
func (p *parser) document(src []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(nil, "empty file")
			return nil
		}
		p.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "a second YAML document; the file holds one")
		return nil
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
		return nil
	}
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if hasAlias(n, 0) {
		p.errorf(n, "YAML aliases are not allowed")
		return nil
	}
	return n
}

func hasAlias(n *yaml.Node, depth int) bool {
	if n.Kind == yaml.AliasNode || depth > 64 {
		return true
	}
	return slices.ContainsFunc(n.Content, func(c *yaml.Node) bool { return hasAlias(c, depth+1) })
}

func (p *parser) yamlError(err error) {
	for _, line := range strings.Split(strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n"), "\n") {
		line = strings.TrimSpace(line)
		if m := yamlLineRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			p.errs = append(p.errs, &Error{File: p.file, Line: n, Col: 1, Msg: m[2]})
			continue
		}
		p.errs = append(p.errs, &Error{File: p.file, Msg: strings.TrimPrefix(line, "yaml: ")})
	}
}

// pair is a key and its value in a mapping.
type pair struct {
	key   string
	kn, v *yaml.Node
}

// mapping returns the pairs of a mapping node, refusing keys outside
// allowed (nil: any) and keys given twice.
func (p *parser) mapping(n *yaml.Node, what string, allowed ...string) ([]pair, bool) {
	if n == nil || n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping", what)
		return nil, false
	}
	var out []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: keys must be plain text", what)
			continue
		}
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			p.errorf(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(allowed, ", "))
			continue
		}
		if seen[k.Value] {
			p.errorf(k, "%s: key %q given twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{k.Value, k, v})
	}
	return out, true
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "%s must be text", what)
		return "", false
	}
	return n.Value, true
}

func (p *parser) integer(n *yaml.Node, what string) (int, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		p.errorf(n, "%s must be a whole number, not %q", what, s)
		return 0, false
	}
	return v, true
}

// strList accepts a list of text or a single text.
func (p *parser) strList(n *yaml.Node, what string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode {
		s, ok := p.str(n, what)
		return []string{s}, ok
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list of text", what)
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, ok := p.str(c, what+" element")
		if !ok {
			return nil, false
		}
		if strings.TrimSpace(s) == "" {
			p.errorf(c, "%s: empty element", what)
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
