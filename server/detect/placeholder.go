package detect

import (
	"fmt"
	"slices"
	"strings"
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
