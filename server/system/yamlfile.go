package system

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// yamlDoc parses one YAML document strictly: every key must be a field of
// t (by its yaml tag), aliases are refused (they let a small file expand
// without bound), and more than one document is an error. It returns the
// root node and the node of every field path, for errors that name a
// place.
func yamlDoc(file string, b []byte, t reflect.Type) (*yaml.Node, map[string]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%s: empty file", file)
		}
		return nil, nil, fmt.Errorf("%s:%s", file, yamlMsg(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, fmt.Errorf("%s:%d:%d: a second YAML document; the file holds one", file, extra.Line, extra.Column)
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s:%s", file, yamlMsg(err))
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	w := walker{file: file, pos: map[string]*yaml.Node{}}
	w.walk(doc, t, "")
	if len(w.errs) > 0 {
		return nil, nil, errors.Join(w.errs...)
	}
	return doc, w.pos, nil
}

// yamlMsg turns yaml.v3's "yaml: line 3: …" into "3: …" so that it reads
// after a file name.
func yamlMsg(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = strings.ReplaceAll(s, "unmarshal errors:\n  ", "")
	if rest, ok := strings.CutPrefix(s, "line "); ok {
		return rest
	}
	return " " + s
}

type walker struct {
	file string
	pos  map[string]*yaml.Node
	errs []error
}

func (w *walker) fail(n *yaml.Node, path, format string, args ...any) {
	at := strings.TrimPrefix(path, ".")
	if at != "" {
		at += ": "
	}
	w.errs = append(w.errs, fmt.Errorf("%s:%d:%d: %s%s", w.file, n.Line, n.Column, at, fmt.Sprintf(format, args...)))
}

var (
	timeType        = reflect.TypeOf(time.Time{})
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// maxErrors keeps the report of a hopeless file readable.
const maxErrors = 20

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	if len(w.errs) >= maxErrors {
		return
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		w.fail(n, path, "YAML anchors and aliases are not allowed")
		return
	}
	w.pos[strings.TrimPrefix(path, ".")] = n
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType || reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() < reflect.Array || t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			w.fail(n, path, "want a single value, not a %s", kindName(n.Kind))
			return
		}
		w.scalar(n, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(n, path, "want a list, not a %s", kindName(n.Kind))
			return
		}
		for i, c := range n.Content {
			w.walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.fail(n, path, "want a mapping, not a %s", kindName(n.Kind))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], t.Elem(), path+"."+n.Content[i].Value)
		}
	case t.Kind() == reflect.Struct:
		w.walkStruct(n, t, path)
	}
}

func (w *walker) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.fail(n, path, "want a mapping, not a %s", kindName(n.Kind))
		return
	}
	fields := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = t.Field(i).Type
			names = append(names, name)
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ft, ok := fields[k.Value]
		switch {
		case !ok:
			w.fail(k, path, "unknown field %q (want one of %s)", k.Value, strings.Join(names, ", "))
		case seen[k.Value]:
			w.fail(k, path, "field %q given twice", k.Value)
		default:
			seen[k.Value] = true
			w.walk(n.Content[i+1], ft, path+"."+k.Value)
		}
	}
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	}
	return "document"
}

// at names the place of a field path, or of its nearest parent the file
// has.
func at(file string, pos map[string]*yaml.Node, path string) string {
	for p := path; ; {
		if n, ok := pos[p]; ok {
			return fmt.Sprintf("%s:%d:%d", file, n.Line, n.Column)
		}
		i := max(strings.LastIndexAny(p, ".["), 0)
		if p == "" {
			return file
		}
		p = p[:i]
	}
}

// placeErrors prefixes each FieldError in err (joined or single) with the
// place of its field under prefix, and keeps other errors as they are.
func placeErrors(file string, pos map[string]*yaml.Node, prefix string, err error) []error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var fe *FieldError
		if errors.As(e, &fe) {
			full := prefix + "." + fe.Field
			out = append(out, fmt.Errorf("%s: %s: %s", at(file, pos, full), full, fe.Msg))
		} else {
			out = append(out, fmt.Errorf("%s: %w", at(file, pos, prefix), e))
		}
	}
	return out
}

// scalar checks that a value fits its field's type, so that the error
// names the field rather than only the line.
func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) {
	switch {
	case t == durationType:
		if _, err := ParseDuration(n.Value); err != nil {
			w.fail(n, path, "%v", err)
		}
	case reflect.PointerTo(t).Implements(unmarshalerType):
	case t == timeType:
		if _, err := time.Parse("2006-01-02", n.Value); err != nil {
			if _, err := time.Parse(time.RFC3339, n.Value); err != nil {
				w.fail(n, path, "%q is not a date (want YYYY-MM-DD)", n.Value)
			}
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		if n.Tag != "!!int" {
			w.fail(n, path, "%q is not a whole number", n.Value)
		}
	case t.Kind() == reflect.Bool:
		if n.Tag != "!!bool" {
			w.fail(n, path, "%q is not true or false", n.Value)
		}
	case t.Kind() == reflect.String:
		if n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!bool" && n.Tag != "!!timestamp" {
			w.fail(n, path, "%q is not text", n.Value)
		}
	}
}
