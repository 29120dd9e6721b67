package detect

import (
	"fmt"
	"strings"
)

// Modifier names.
const (
	modContains     = "contains"
	modStartsWith   = "startswith"
	modEndsWith     = "endswith"
	modAll          = "all"
	modCased        = "cased"
	modRe           = "re"
	modCIDR         = "cidr"
	modExists       = "exists"
	modNeq          = "neq"
	modFieldRef     = "fieldref"
	modExpand       = "expand"
	modWindash      = "windash"
	modBase64       = "base64"
	modBase64Offset = "base64offset"
)

// modClass groups modifiers by the role they play in a chain.
type modClass uint8

const (
	classPosition  modClass = iota + 1 // contains, startswith, endswith
	classAll                           // all
	classCased                         // cased
	classRegex                         // re
	classRegexFlag                     // i, m, s after re
	classTransform                     // windash, base64, base64offset, utf16*, wide, expand
	classCIDR                          // cidr
	classExists                        // exists
	classCompare                       // gt, gte, lt, lte
	classTime                          // minute ... year
	classNeq                           // neq
	classFieldRef                      // fieldref
)

var modClasses = map[string]modClass{
	modContains: classPosition, modStartsWith: classPosition, modEndsWith: classPosition,
	modAll: classAll, modCased: classCased, modRe: classRegex,
	"i": classRegexFlag, "m": classRegexFlag, "s": classRegexFlag,
	modWindash: classTransform, modBase64: classTransform, modBase64Offset: classTransform,
	"utf16le": classTransform, "utf16be": classTransform, "utf16": classTransform, "wide": classTransform,
	modExpand: classTransform,
	modCIDR:   classCIDR, modExists: classExists,
	"gt": classCompare, "gte": classCompare, "lt": classCompare, "lte": classCompare,
	"minute": classTime, "hour": classTime, "day": classTime, "week": classTime, "month": classTime, "year": classTime,
	modNeq: classNeq, modFieldRef: classFieldRef,
}

// modChain is a field's modifier chain sorted by role.
type modChain struct {
	position   string // "" for equality
	all, cased bool
	re         bool
	reFlags    string   // subset of "ims"
	transforms []string // value transformations in chain order
	cidr       bool
	exists     bool
	compare    string // gt, gte, lt, lte
	timePart   string // minute ... year
	neq        bool
	fieldRef   bool
}

// terminal names the modifier that decides how values match, for messages.
func (m *modChain) terminal() string {
	switch {
	case m.re:
		return modRe
	case m.cidr:
		return modCIDR
	case m.exists:
		return modExists
	case m.compare != "":
		return m.compare
	case m.fieldRef:
		return modFieldRef
	}
	return ""
}

// parseModifiers checks a modifier chain and sorts it; the error message
// names the offending modifier.
func parseModifiers(mods []string) (modChain, error) {
	var m modChain
	seen := map[string]bool{}
	for _, name := range mods {
		class, ok := modClasses[name]
		switch {
		case !ok:
			return m, fmt.Errorf("unknown modifier %q", name)
		case seen[name]:
			return m, fmt.Errorf("modifier %q given twice", name)
		}
		seen[name] = true
		if err := m.add(name, class); err != nil {
			return m, err
		}
	}
	return m, m.check()
}

func (m *modChain) add(name string, class modClass) error {
	switch class {
	case classPosition:
		if m.position != "" {
			return fmt.Errorf("modifiers %q and %q cannot be combined", m.position, name)
		}
		m.position = name
	case classAll:
		m.all = true
	case classCased:
		m.cased = true
	case classRegex:
		m.re = true
	case classRegexFlag:
		if !m.re {
			return fmt.Errorf("modifier %q must follow \"re\"", name)
		}
		m.reFlags += name
	case classTransform:
		m.transforms = append(m.transforms, name)
	case classCIDR:
		m.cidr = true
	case classExists:
		m.exists = true
	case classCompare:
		if m.compare != "" {
			return fmt.Errorf("modifiers %q and %q cannot be combined", m.compare, name)
		}
		m.compare = name
	case classTime:
		if m.timePart != "" {
			return fmt.Errorf("modifiers %q and %q cannot be combined", m.timePart, name)
		}
		m.timePart = name
	case classNeq:
		m.neq = true
	case classFieldRef:
		m.fieldRef = true
	}
	return nil
}

// check rejects combinations whose meaning the specification leaves open.
func (m *modChain) check() error {
	var terminals []string
	for _, t := range []struct {
		on   bool
		name string
	}{{m.re, modRe}, {m.cidr, modCIDR}, {m.exists, modExists}, {m.compare != "", m.compare}} {
		if t.on {
			terminals = append(terminals, t.name)
		}
	}
	if len(terminals) > 1 {
		return fmt.Errorf("modifiers %s cannot be combined", quoteAll(terminals))
	}
	term := m.terminal()
	switch {
	case m.timePart != "" && (m.re || m.cidr || m.exists || m.fieldRef || len(m.transforms) > 0 || m.position != ""):
		return fmt.Errorf("modifier %q only combines with gt, gte, lt, lte, neq and all", m.timePart)
	case m.fieldRef && (m.re || m.cidr || m.exists || m.compare != "" || len(m.transforms) > 0):
		return fmt.Errorf("modifier %q only combines with contains, startswith, endswith, cased, neq and all", modFieldRef)
	case term != "" && term != modFieldRef && (m.position != "" || len(m.transforms) > 0):
		other := m.position
		if other == "" {
			other = m.transforms[0]
		}
		return fmt.Errorf("modifiers %q and %q cannot be combined", term, other)
	case m.exists && (m.all || m.neq || m.cased):
		return fmt.Errorf("modifier %q stands alone", modExists)
	case m.cased && (m.re || m.cidr || m.compare != ""):
		return fmt.Errorf("modifier %q only applies to string matching", modCased)
	}
	return nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, " and ")
}
