package detect

import (
	"bytes"
	"errors"
	"io"

	"gopkg.in/yaml.v3"
)

// ParseRules parses a rule file into its detection rules. A file of one
// document is ParseRule's. A file of several documents must hold a
// correlation rule (a document with a top-level "correlation" key, read by
// package correlate and skipped here) beside the detection rules it uses,
// as the Sigma correlation specification writes them; a document with
// errors is left out and its errors returned with the other rules.
func ParseRules(file string, src []byte) (rules []*Rule, err error) {
	roots, ok := correlationDocs(src)
	if !ok {
		r, err := ParseRule(file, src)
		if err != nil {
			return nil, err
		}
		return []*Rule{r}, nil
	}
	var errs ErrorList
	for _, root := range roots {
		if isCorrelation(root) {
			continue
		}
		p := &ruleParser{nodeParser: nodeParser{file: file}, src: src}
		r := p.parseRule(root)
		if len(p.errs) > 0 {
			errs = append(errs, p.errs...)
			continue
		}
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return rules, errs
	}
	return rules, nil
}

// correlationDocs returns the document roots of src when it decodes
// cleanly and one of them is a correlation rule.
func correlationDocs(src []byte) (roots []*yaml.Node, ok bool) {
	if !bytes.Contains(src, []byte("correlation")) {
		return nil, false
	}
	defer func() {
		// Outside code on hostile input: fall back to ParseRule, which
		// reports the failure.
		if recover() != nil {
			roots, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if !errors.Is(err, io.EOF) {
				return nil, false
			}
			break
		}
		if len(doc.Content) > 0 {
			root := resolve(doc.Content[0])
			roots = append(roots, root)
			ok = ok || isCorrelation(root)
		}
	}
	return roots, ok
}

func isCorrelation(root *yaml.Node) bool {
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
