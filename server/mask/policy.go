package mask

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed default.yml
var defaultPolicy []byte

// DefaultPolicyYAML is the built-in policy, for operators to start from.
func DefaultPolicyYAML() []byte { return bytes.Clone(defaultPolicy) }

// FieldRule masks the whole value of fields whose name matches Field
// ("*" matches any run of characters, dots included).
type FieldRule struct {
	Field string `yaml:"field"`
	Type  string `yaml:"type"`
}

// PatternRule masks what Regex finds inside string values. A group named
// "v" marks the part replaced; without one the whole match is.
type PatternRule struct {
	Type  string `yaml:"type"`
	Regex string `yaml:"regex"`
}

// Policy says what is personal. Compile it (LoadPolicy does) before use.
type Policy struct {
	Fields   []FieldRule   `yaml:"fields"`
	Patterns []PatternRule `yaml:"patterns"`
	Surnames []string      `yaml:"surnames"`
	Networks []string      `yaml:"networks"`

	patterns []compiled
	networks []netip.Prefix
}

type compiled struct {
	typ   string
	re    *regexp.Regexp
	group int // index of the "v" group, or 0 for the whole match
}

var typePattern = regexp.MustCompile(`^[a-z][a-z0-9]{0,15}$`)

// ipPattern finds dotted IPv4 addresses inside text; whether one is masked
// depends on the policy's networks.
var ipPattern = regexp.MustCompile(`(?:^|[^0-9.])(?P<v>[0-9]{1,3}(?:\.[0-9]{1,3}){3})(?:$|[^0-9.])`)

// DefaultPolicy returns the built-in policy, compiled.
func DefaultPolicy() *Policy {
	p, err := ParsePolicy(defaultPolicy, "default.yml")
	if err != nil {
		panic("mask: built-in policy: " + err.Error())
	}
	return p
}

// LoadPolicy reads a policy file; an empty path gives the built-in policy.
func LoadPolicy(file string) (*Policy, error) {
	if file == "" {
		return DefaultPolicy(), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("mask policy: %w", err)
	}
	return ParsePolicy(b, file)
}

// ParsePolicy decodes and compiles a policy; errors name the source and,
// where the YAML decoder gives one, the line.
func ParsePolicy(b []byte, source string) (*Policy, error) {
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if err := p.compile(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &p, nil
}

func (p *Policy) compile() error {
	var errs []error
	for i, f := range p.Fields {
		if !typePattern.MatchString(f.Type) {
			errs = append(errs, fmt.Errorf("fields[%d]: type %q must match %s", i, f.Type, typePattern))
		}
		if _, err := path.Match(f.Field, "x"); err != nil || f.Field == "" {
			errs = append(errs, fmt.Errorf("fields[%d]: bad field pattern %q", i, f.Field))
		}
	}
	p.patterns = nil
	for i, pr := range p.Patterns {
		c, err := compilePattern(pr)
		if err != nil {
			errs = append(errs, fmt.Errorf("patterns[%d]: %w", i, err))
			continue
		}
		p.patterns = append(p.patterns, c)
	}
	if len(p.Surnames) > 0 {
		quoted := make([]string, len(p.Surnames))
		for i, s := range p.Surnames {
			quoted[i] = regexp.QuoteMeta(strings.TrimSpace(s))
		}
		re := `(?:^|[^\p{L}\p{M}])(?P<v>(?:` + strings.Join(quoted, "|") + `)(?:[ \t]+\p{Lu}[\p{Ll}\p{M}]*){1,3})(?:$|[^\p{L}\p{M}])`
		c, err := compilePattern(PatternRule{Type: "person", Regex: re})
		if err != nil {
			errs = append(errs, fmt.Errorf("surnames: %w", err))
		} else {
			p.patterns = append(p.patterns, c)
		}
	}
	p.networks = nil
	for i, n := range p.Networks {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(n))
		if err != nil {
			errs = append(errs, fmt.Errorf("networks[%d]: %w", i, err))
			continue
		}
		p.networks = append(p.networks, pfx.Masked())
	}
	return errors.Join(errs...)
}

func compilePattern(pr PatternRule) (compiled, error) {
	if !typePattern.MatchString(pr.Type) {
		return compiled{}, fmt.Errorf("type %q must match %s", pr.Type, typePattern)
	}
	re, err := regexp.Compile(pr.Regex)
	if err != nil {
		return compiled{}, fmt.Errorf("type %s: %w", pr.Type, err)
	}
	c := compiled{typ: pr.Type, re: re}
	if i := re.SubexpIndex("v"); i > 0 {
		c.group = i
	}
	return c, nil
}

// fieldType returns the mask type of a field, or "".
func (p *Policy) fieldType(name string) string {
	for _, f := range p.Fields {
		if ok, _ := path.Match(f.Field, name); ok {
			return f.Type
		}
	}
	return ""
}

// internal reports whether an address lies in one of the policy's networks.
func (p *Policy) internal(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.networks {
		if n.Contains(a) {
			return true
		}
	}
	return false
}
