package detect

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// lookup returns a placeholder's values. Names are compared without regard
// to case when no exact entry exists, because configuration read through
// viper arrives with its keys in lower case.
func (ph Placeholders) lookup(name string) ([]string, bool) {
	if vals, ok := ph[name]; ok {
		return vals, true
	}
	for k, vals := range ph {
		if strings.EqualFold(k, name) {
			return vals, true
		}
	}
	return nil, false
}

// placeholderNames returns the %name% placeholders of an expand value in
// order ("\%" is a plain percent sign).
func placeholderNames(raw string) []string {
	var out []string
	for i := 0; i < len(raw); i++ {
		switch {
		case raw[i] == '\\' && i+1 < len(raw) && raw[i+1] == '%':
			i++
		case raw[i] == '%':
			end := strings.IndexByte(raw[i+1:], '%')
			if end < 0 {
				return out
			}
			out = append(out, raw[i+1:i+1+end])
			i += end + 1
		}
	}
	return out
}

// unconfiguredPlaceholders warns of every expand placeholder of r that ph
// has no values for, once per value. Such a placeholder stands for no
// value at all: a selection that needs it does not match, and a filter
// built on it excludes nothing, so the rule errs toward alerting rather
// than toward silence.
func unconfiguredPlaceholders(r *Rule, ph Placeholders) ErrorList {
	if r.Detection == nil {
		return nil
	}
	var out ErrorList
	for _, s := range r.Detection.Selections {
		for _, alt := range s.Alternatives {
			for _, ft := range alt {
				if !slices.Contains(ft.mods.transforms, modExpand) {
					continue
				}
				for _, v := range ft.Values {
					var missing []string
					for _, name := range placeholderNames(v.Raw) {
						if _, ok := ph.lookup(name); !ok && !slices.Contains(missing, "%"+name+"%") {
							missing = append(missing, "%"+name+"%")
						}
					}
					if len(missing) == 0 {
						continue
					}
					out = append(out, &Error{File: r.File, Pos: v.Pos, Msg: fmt.Sprintf(
						"expand: placeholder %s has no configured values (detect.placeholders, --placeholders); it matches nothing, so a filter on it excludes nothing",
						strings.Join(missing, ", "))})
				}
			}
		}
	}
	return out
}

// ParsePlaceholders reads a placeholder file: a YAML mapping from each
// placeholder's name (without the percent signs) to a value or a list of
// values, which are Sigma strings and may hold wildcards:
//
//	Admins_Workstations: [adm-ws-*, it-ws-01]
//	DomainControllers: dc-*
//
// Errors carry name:line:col.
func ParsePlaceholders(name string, src []byte) (Placeholders, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ph := Placeholders{}
	if len(doc.Content) == 0 {
		return ph, nil
	}
	root := doc.Content[0]
	bad := func(n *yaml.Node, format string, args ...any) error {
		return &Error{File: name, Pos: Pos{n.Line, n.Column}, Msg: fmt.Sprintf(format, args...)}
	}
	if root.Kind != yaml.MappingNode {
		return nil, bad(root, "placeholders: want a mapping from placeholder names to values")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var vals []string
		switch v.Kind {
		case yaml.ScalarNode:
			vals = []string{v.Value}
		case yaml.SequenceNode:
			for _, el := range v.Content {
				if el.Kind != yaml.ScalarNode {
					return nil, bad(el, "placeholder %q: a value must be a string", k.Value)
				}
				vals = append(vals, el.Value)
			}
		default:
			return nil, bad(v, "placeholder %q: want a value or a list of values", k.Value)
		}
		if _, dup := ph[k.Value]; dup {
			return nil, bad(k, "placeholder %q given twice", k.Value)
		}
		ph[k.Value] = vals
	}
	if err := (Config{Placeholders: ph}).Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ph, nil
}
