package report

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed controls.yml
var defaultControls []byte

// Control is one requirement of the checklist (controls.yml).
type Control struct {
	ID       string   `yaml:"id"`
	Area     string   `yaml:"area"`
	Levels   []int    `yaml:"levels"`
	Refs     []string `yaml:"refs"`
	Text     Text     `yaml:"text"`
	Evidence string   `yaml:"evidence"`
}

// Text is a sentence in both languages.
type Text struct {
	VI string `yaml:"vi"`
	EN string `yaml:"en"`
}

// In returns the text in lang, Vietnamese when lang is not English.
func (t Text) In(lang string) string {
	if lang == LangEN {
		return t.EN
	}
	return t.VI
}

// Areas of the checklist.
var Areas = []string{"monitoring", "malware", "logging", "response"}

// Control results.
const (
	Met           = "met"
	NotMet        = "not_met"
	NotAssessable = "not_assessable"
)

// ControlResult is a control evaluated for one system: its status and why,
// as a catalog key with its values.
type ControlResult struct {
	Control Control
	Status  string
	Reason  Gap
}

// DefaultControls is the checklist shipped with the server.
func DefaultControls() []Control {
	cs, err := ParseControls("controls.yml", defaultControls)
	if err != nil {
		panic("report: the built-in controls.yml does not load: " + err.Error()) // checked by a test
	}
	return cs
}

// ParseControls reads a checklist strictly: unknown keys, unknown evidence,
// levels outside 1–5, IDs given twice and empty texts are errors naming
// file:line and the control.
func ParseControls(file string, b []byte) ([]Control, error) {
	var doc struct {
		Controls []yaml.Node `yaml:"controls"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var (
		out  []Control
		errs []error
		seen = map[string]bool{}
	)
	for _, n := range doc.Controls {
		var c Control
		where := fmt.Sprintf("%s:%d:%d", file, n.Line, n.Column)
		if err := decodeStrict(&n, &c); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		if err := c.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: control %q: %w", where, c.ID, err))
		}
		if seen[c.ID] {
			errs = append(errs, fmt.Errorf("%s: control %q is given twice", where, c.ID))
		}
		seen[c.ID] = true
		out = append(out, c)
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no controls", file))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// decodeStrict decodes a node refusing unknown keys (Node.Decode does not).
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func (c Control) validate() error {
	var errs []error
	if strings.TrimSpace(c.ID) == "" {
		errs = append(errs, errors.New("id: empty"))
	}
	if !slices.Contains(Areas, c.Area) {
		errs = append(errs, fmt.Errorf("area %q: want one of %s", c.Area, strings.Join(Areas, ", ")))
	}
	if len(c.Levels) == 0 {
		errs = append(errs, errors.New("levels: empty"))
	}
	for _, l := range c.Levels {
		if l < 1 || l > 5 {
			errs = append(errs, fmt.Errorf("levels: %d is not a security level (1 to 5)", l))
		}
	}
	if len(c.Refs) == 0 {
		errs = append(errs, errors.New("refs: a control needs its source"))
	}
	if strings.TrimSpace(c.Text.VI) == "" || strings.TrimSpace(c.Text.EN) == "" {
		errs = append(errs, errors.New("text: vi and en are both needed"))
	}
	if _, ok := evaluators[c.Evidence]; !ok {
		errs = append(errs, fmt.Errorf("evidence %q: the evaluator knows %s", c.Evidence, strings.Join(EvidenceNames(), ", ")))
	}
	return errors.Join(errs...)
}

// Applies reports whether the control applies at a level.
func (c Control) Applies(level int) bool { return slices.Contains(c.Levels, level) }
