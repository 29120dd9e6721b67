package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// nodeParser collects positioned errors while walking one file's YAML.
type nodeParser struct {
	file  string
	errs  ErrorList
	warns ErrorList
}

// lenient runs f and turns the errors it reports into warnings.
func (p *nodeParser) lenient(f func()) {
	n := len(p.errs)
	f()
	p.warns = append(p.warns, p.errs[n:]...)
	p.errs = p.errs[:n]
}

func (p *nodeParser) errorf(n *yaml.Node, format string, args ...any) {
	p.errAt(nodePos(n), format, args...)
}

func (p *nodeParser) errAt(pos Pos, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (p *nodeParser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return p.errs
}

func nodePos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Col: n.Column}
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeSingle decodes a file that must hold exactly one YAML document and
// returns its root node. yaml.v3 reports syntax errors by line only, so such
// errors carry no column.
func (p *nodeParser) decodeSingle(src []byte) (root *yaml.Node, err error) {
	defer func() {
		// The YAML library is outside code; a panic on hostile input must
		// become an error, never take the server down.
		if r := recover(); r != nil {
			p.errAt(Pos{}, "yaml: internal error: %v", r)
			root, err = nil, p.err()
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errAt(Pos{}, "empty file")
		} else {
			p.yamlError(err)
		}
		return nil, p.err()
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.yamlError(err)
		return nil, p.err()
	default:
		p.errorf(&extra, "multiple YAML documents in one file are not supported yet")
		return nil, p.err()
	}
	if len(doc.Content) == 0 {
		p.errAt(Pos{}, "empty file")
		return nil, p.err()
	}
	return resolve(doc.Content[0]), nil
}

func (p *nodeParser) yamlError(err error) {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errAt(Pos{Line: line}, "yaml: %s", m[2])
		return
	}
	p.errAt(Pos{}, "%v", err)
}

// pair is one key and value of a mapping.
type pair struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

// mapping returns the pairs of a mapping node, reporting non-scalar and
// duplicate keys (which yaml.v3 accepts silently in a Node tree).
func (p *nodeParser) mapping(n *yaml.Node, what string) ([]pair, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping", what)
		return nil, false
	}
	seen := make(map[string]bool, len(n.Content)/2)
	out := make([]pair, 0, len(n.Content)/2)
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: keys must be strings", what)
			ok = false
			continue
		}
		if k.Value == "<<" && k.Tag == "!!merge" {
			p.errorf(k, "%s: YAML merge keys are not supported", what)
			ok = false
			continue
		}
		if seen[k.Value] {
			p.errorf(k, "%s: duplicate key %q", what, k.Value)
			ok = false
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{key: k.Value, keyN: k, value: v})
	}
	return out, ok
}

// str returns a scalar as a string; numbers and booleans are accepted as
// their text because YAML authors rarely quote them.
func (p *nodeParser) str(n *yaml.Node, what string) (string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "%s must be a string", what)
		return "", false
	}
	return n.Value, true
}

// strList accepts a list of strings or, leniently, a single string.
func (p *nodeParser) strList(n *yaml.Node, what string) ([]string, bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}, true
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list of strings", what)
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, ok := p.str(c, what+" item")
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
