package indicator

import (
	"fmt"
	"strings"
)

// Value is one typed value a pattern names.
type Value struct {
	Type  string
	Value string
}

// maxPattern bounds a pattern's length; nothing real comes near it.
const maxPattern = 1 << 20

// paths maps the object paths of the supported subset, lower-cased with
// quotes removed, to indicator types.
var paths = map[string]string{
	"file:hashes.md5":     TypeMD5,
	"file:hashes.sha-1":   TypeSHA1,
	"file:hashes.sha1":    TypeSHA1,
	"file:hashes.sha-256": TypeSHA256,
	"file:hashes.sha256":  TypeSHA256,
	"domain-name:value":   TypeDomain,
	"ipv4-addr:value":     TypeIP,
	"ipv6-addr:value":     TypeIP,
	"url:value":           TypeURL,
}

// ParsePattern reads a STIX pattern in the supported subset: observation
// expressions in brackets joined by OR, each a comparison or comparisons
// joined by OR, each comparison "path = 'value'" or "path IN ('v', …)".
// Anything else (AND, FOLLOWEDBY, qualifiers, other operators or paths) is
// an error that says what and at which byte offset.
func ParsePattern(p string) ([]Value, error) {
	if len(p) > maxPattern {
		return nil, fmt.Errorf("pattern longer than %d bytes", maxPattern)
	}
	ps := &patternParser{s: p}
	var out []Value
	for {
		ps.space()
		if !ps.eat('[') {
			return nil, ps.errf("expected [")
		}
		vals, err := ps.observation()
		if err != nil {
			return nil, err
		}
		out = append(out, vals...)
		ps.space()
		if ps.done() {
			return out, nil
		}
		if w := ps.word(); !strings.EqualFold(w, "OR") {
			return nil, ps.unsupported(w, "between observations")
		}
	}
}

type patternParser struct {
	s    string
	pos  int
	last int // where the last word began, for errors about it
}

func (p *patternParser) done() bool { return p.pos >= len(p.s) }

func (p *patternParser) errf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *patternParser) unsupported(w, where string) error {
	if w == "" {
		if p.done() {
			return p.errf("unexpected end %s", where)
		}
		return p.errf("unexpected %q %s", p.s[p.pos:p.pos+1], where)
	}
	return fmt.Errorf("offset %d: %q %s is not supported (only OR)", p.last, w, where)
}

func (p *patternParser) space() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *patternParser) eat(c byte) bool {
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// word reads a run of letters, digits and - _ : characters.
func (p *patternParser) word() string {
	p.space()
	start := p.pos
	p.last = start
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == ':' {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

// observation reads comparisons up to the closing bracket.
func (p *patternParser) observation() ([]Value, error) {
	var out []Value
	for {
		vals, err := p.comparison()
		if err != nil {
			return nil, err
		}
		out = append(out, vals...)
		if p.eat(']') {
			return out, nil
		}
		if w := p.word(); !strings.EqualFold(w, "OR") {
			return nil, p.unsupported(w, "inside an observation")
		}
	}
}

func (p *patternParser) comparison() ([]Value, error) {
	start := p.pos
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	typ, ok := paths[strings.ToLower(path)]
	if !ok {
		p.pos = start
		p.space()
		return nil, p.errf("object path %q is not supported (hashes MD5/SHA-1/SHA-256, domain-name, ipv4-addr, ipv6-addr, url)", path)
	}
	p.space()
	if p.eat('=') {
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		return []Value{{typ, v}}, nil
	}
	if w := p.word(); !strings.EqualFold(w, "IN") {
		if w == "" && !p.done() {
			return nil, p.errf("operator %q is not supported (only = and IN)", p.s[p.pos:p.pos+1])
		}
		return nil, fmt.Errorf("offset %d: operator %q is not supported (only = and IN)", p.last, w)
	}
	if !p.eat('(') {
		return nil, p.errf("expected ( after IN")
	}
	var out []Value
	for {
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		out = append(out, Value{typ, v})
		if p.eat(')') {
			return out, nil
		}
		if !p.eat(',') {
			return nil, p.errf("expected , or )")
		}
	}
}

// objectPath reads "type:prop.prop…", where a property may be quoted.
func (p *patternParser) objectPath() (string, error) {
	var sb strings.Builder
	w := p.word()
	if !strings.Contains(w, ":") {
		return "", p.errf("expected an object path such as domain-name:value")
	}
	sb.WriteString(w)
	for p.pos < len(p.s) && p.s[p.pos] == '.' {
		p.pos++
		sb.WriteByte('.')
		if p.pos < len(p.s) && p.s[p.pos] == '\'' {
			s, err := p.quoted()
			if err != nil {
				return "", err
			}
			sb.WriteString(s)
			continue
		}
		seg := p.word()
		if seg == "" {
			return "", p.errf("empty property in object path")
		}
		sb.WriteString(seg)
	}
	return sb.String(), nil
}

// literal reads a quoted string, or a bare address (some producers leave
// IPv6 addresses unquoted).
func (p *patternParser) literal() (string, error) {
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == '\'' {
		return p.quoted()
	}
	start := p.pos
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n]),", p.s[p.pos]) < 0 {
		p.pos++
	}
	if start == p.pos {
		return "", p.errf("expected a quoted value")
	}
	return p.s[start:p.pos], nil
}

// quoted reads a single-quoted string with \' and \\ escapes.
func (p *patternParser) quoted() (string, error) {
	start := p.pos
	p.pos++
	var sb strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case '\'':
			p.pos++
			return sb.String(), nil
		case '\\':
			if p.pos+1 >= len(p.s) || (p.s[p.pos+1] != '\'' && p.s[p.pos+1] != '\\') {
				return "", p.errf("bad escape in string")
			}
			sb.WriteByte(p.s[p.pos+1])
			p.pos += 2
		default:
			sb.WriteByte(c)
			p.pos++
		}
	}
	p.pos = start
	return "", p.errf("unterminated string")
}
