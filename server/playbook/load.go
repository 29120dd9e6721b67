package playbook

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"
)

// TemplatesFile holds a directory's notification templates.
const TemplatesFile = "templates.yml"

// TestsSuffix ends the name of a playbook's test-case file.
const TestsSuffix = ".tests.yml"

// maxFileSize bounds a playbook or template file.
const maxFileSize = 1 << 20

// Set is the playbooks and notification templates of a directory.
type Set struct {
	Playbooks []*Playbook
	Messages  map[string]*Message
}

// Playbook returns the playbook with that ID, or nil.
func (s *Set) Playbook(id string) *Playbook {
	for _, p := range s.Playbooks {
		if p.ID == id {
			return p
		}
	}
	return nil
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Load reads every playbook (*.yml but the test files and TemplatesFile)
// under root of fsys, and the templates file at root. name is how paths
// are shown in errors (the directory as the user gave it). Playbooks that
// fail are left out of the set and each problem is one error with
// file:line:col.
func Load(fsys fs.FS, root, name string) (*Set, []error) {
	show := func(p string) string { return path.Join(name, strings.TrimPrefix(strings.TrimPrefix(p, root), "/")) }
	set := &Set{Messages: map[string]*Message{}}
	var errs []error
	tp := path.Join(root, TemplatesFile)
	if src, err := readFile(fsys, tp); err == nil {
		msgs, e := parseMessages(show(tp), src)
		set.Messages, errs = msgs, append(errs, e...)
	} else if !isNotExist(err) {
		errs = append(errs, fmt.Errorf("%s: %w", show(tp), err))
	}
	var files []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yml") && !strings.HasSuffix(p, TestsSuffix) && p != tp {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return set, append(errs, fmt.Errorf("%s: %w", name, err))
	}
	sort.Strings(files)
	ids := map[string]string{}
	for _, f := range files {
		src, err := readFile(fsys, f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", show(f), err))
			continue
		}
		pb, perrs := Parse(show(f), src, set.Messages)
		if len(perrs) > 0 {
			errs = append(errs, perrs...)
			continue
		}
		if other, dup := ids[pb.ID]; dup {
			errs = append(errs, &Error{File: pb.File, Line: 1, Col: 1, Msg: fmt.Sprintf("id %q is also the id of %s", pb.ID, other)})
			continue
		}
		ids[pb.ID] = pb.File
		set.Playbooks = append(set.Playbooks, pb)
	}
	return set, errs
}

func readFile(fsys fs.FS, p string) ([]byte, error) {
	st, err := fs.Stat(fsys, p)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%d bytes, more than the %d a playbook file may hold", st.Size(), maxFileSize)
	}
	return fs.ReadFile(fsys, p)
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Parse parses one playbook file against the notification templates
// known (nil: any template name is accepted).
func Parse(file string, src []byte, msgs map[string]*Message) (*Playbook, []error) {
	p := &parser{file: file}
	root := p.document(src)
	if root == nil {
		return nil, p.errs
	}
	pairs, ok := p.mapping(root, "playbook", "id", "title", "description", "trigger", "steps")
	if !ok {
		return nil, p.errs
	}
	pb := &Playbook{File: file}
	var stepsNode, trigNode *yaml.Node
	for _, kv := range pairs {
		switch kv.key {
		case "id":
			if s, ok := p.str(kv.v, "id"); ok && !idRE.MatchString(s) {
				p.errorf(kv.v, "id %q must be lower-case letters, digits and dashes", s)
			} else {
				pb.ID = s
			}
		case "title":
			pb.Title, _ = p.str(kv.v, "title")
		case "description":
			pb.Description, _ = p.str(kv.v, "description")
		case "trigger":
			trigNode = kv.v
		case "steps":
			stepsNode = kv.v
		}
	}
	for _, need := range []struct {
		ok   bool
		name string
	}{{pb.ID != "", "id"}, {pb.Title != "", "title"}, {trigNode != nil, "trigger"}, {stepsNode != nil, "steps"}} {
		if !need.ok && len(p.errs) == 0 {
			p.errorf(root, "playbook: %s is required", need.name)
		}
	}
	if trigNode != nil {
		pb.Trigger = p.trigger(trigNode)
	}
	if stepsNode != nil {
		pb.Steps = p.steps(stepsNode, msgs)
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return pb, nil
}

// severities orders incident severities.
var severities = []string{"informational", "low", "medium", "high", "critical"}

// tactics are the ATT&CK enterprise tactics, as Sigma tags name them.
var tactics = []string{"reconnaissance", "resource-development", "initial-access", "execution", "persistence",
	"privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
	"collection", "command-and-control", "exfiltration", "impact"}

func (p *parser) trigger(n *yaml.Node) Trigger {
	t := Trigger{Line: n.Line, Col: n.Column}
	pairs, _ := p.mapping(n, "trigger", "rules", "tags", "tactics", "fields", "severity", "level", "units", "only_rules")
	for _, kv := range pairs {
		switch kv.key {
		case "rules":
			t.Rules, _ = p.strList(kv.v, "trigger.rules")
		case "tags":
			t.Tags, _ = p.strList(kv.v, "trigger.tags")
		case "tactics":
			t.Tactics, _ = p.strList(kv.v, "trigger.tactics")
			for _, x := range t.Tactics {
				if !slices.Contains(tactics, x) {
					p.errorf(kv.v, "trigger.tactics: %q is not an ATT&CK tactic (one of %s)", x, strings.Join(tactics, ", "))
				}
			}
		case "units":
			t.Units, _ = p.strList(kv.v, "trigger.units")
		case "only_rules":
			t.OnlyRules, _ = p.strList(kv.v, "trigger.only_rules")
		case "severity":
			if s, ok := p.str(kv.v, "trigger.severity"); ok && !slices.Contains(severities, s) {
				p.errorf(kv.v, "trigger.severity %q is not one of %s", s, strings.Join(severities, ", "))
			} else {
				t.Severity = s
			}
		case "level":
			if v, ok := p.integer(kv.v, "trigger.level"); ok && (v < 1 || v > 5) {
				p.errorf(kv.v, "trigger.level must be a cấp độ from 1 to 5, not %d", v)
			} else {
				t.Level = v
			}
		case "fields":
			fp, _ := p.mapping(kv.v, "trigger.fields")
			t.Fields = map[string][]string{}
			for _, f := range fp {
				t.Fields[f.key], _ = p.strList(f.v, "trigger.fields."+f.key)
			}
		}
	}
	if len(t.Rules)+len(t.Tags)+len(t.Tactics)+len(t.Fields) == 0 && len(p.errs) == 0 {
		p.errorf(n, "trigger must name rules, tags, tactics or fields: a playbook for every incident is not allowed")
	}
	return t
}

var stepKinds = []string{KindEnrich, KindContain, KindNotify, KindNote, KindResolve}

func (p *parser) steps(n *yaml.Node, msgs map[string]*Message) []*Step {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errorf(n, "steps must be a list of at least one step")
		return nil
	}
	var out []*Step
	names := map[string]bool{}
	for i, sn := range n.Content {
		s := p.step(sn, i, msgs)
		if s == nil {
			continue
		}
		if names[s.Name] {
			p.errorf(sn, "step name %q is used twice", s.Name)
		}
		names[s.Name] = true
		out = append(out, s)
	}
	for _, s := range out {
		for _, o := range sortedKeys(s.On) {
			t := s.On[o]
			if t != GoNext && t != GoEnd && t != GoRollback && !names[t] {
				p.errorf(&yaml.Node{Line: s.Line, Column: s.Col}, "step %s: on.%s goes to %q, which is not a step (nor next, end, rollback)", s.Name, o, t)
			}
			if t == s.Name {
				p.errorf(&yaml.Node{Line: s.Line, Column: s.Col}, "step %s: on.%s goes back to the same step", s.Name, o)
			}
		}
	}
	return out
}

func (p *parser) step(n *yaml.Node, i int, msgs map[string]*Message) *Step {
	pairs, ok := p.mapping(n, fmt.Sprintf("step %d", i+1), "name", KindEnrich, KindContain, KindNotify, KindNote, KindResolve,
		"args", "template", "text", "approve", "timeout", "on", "rollback")
	if !ok {
		return nil
	}
	s := &Step{Line: n.Line, Col: n.Column, Name: fmt.Sprintf("step-%d", i+1)}
	keys := map[string]*yaml.Node{}
	for _, kv := range pairs {
		keys[kv.key] = kv.v
		if slices.Contains(stepKinds, kv.key) {
			if s.Kind != "" {
				p.errorf(kv.kn, "a step does one thing: %s and %s", s.Kind, kv.key)
				continue
			}
			s.Kind = kv.key
		}
	}
	if s.Kind == "" {
		p.errorf(n, "step %d: say what it does with one of %s", i+1, strings.Join(stepKinds, ", "))
		return nil
	}
	if v := keys["name"]; v != nil {
		if name, ok := p.str(v, "name"); ok && !idRE.MatchString(name) || slices.Contains([]string{GoNext, GoEnd, GoRollback}, name) {
			p.errorf(v, "step name %q must be lower-case letters, digits and dashes, and not next, end or rollback", name)
		} else {
			s.Name = name
		}
	}
	p.stepBody(s, keys, msgs)
	return s
}

// allowedWith says which keys each kind of step takes besides name, on
// and timeout.
var allowedWith = map[string][]string{
	KindEnrich:  {"args"},
	KindContain: {"args", "approve", "rollback"},
	KindNotify:  {"template"},
	KindNote:    {},
	KindResolve: {"text"},
}

func (p *parser) stepBody(s *Step, keys map[string]*yaml.Node, msgs map[string]*Message) {
	for _, k := range sortedKeys(keys) {
		if k == s.Kind || k == "name" || k == "on" || k == "timeout" || slices.Contains(allowedWith[s.Kind], k) {
			continue
		}
		p.errorf(keys[k], "step %s: %s does not go with %s", s.Name, k, s.Kind)
	}
	v := keys[s.Kind]
	switch s.Kind {
	case KindEnrich, KindContain:
		s.Action, _ = p.str(v, s.Kind)
		p.action(s, v, keys["args"])
		if s.Kind == KindContain {
			p.approval(s, keys["approve"])
			p.rollback(s, keys["rollback"])
		}
	case KindNotify:
		s.Channel, _ = p.str(v, "notify")
		tn := keys["template"]
		if tn == nil {
			p.errorf(v, "step %s: notify needs a template", s.Name)
			break
		}
		if s.Template, _ = p.str(tn, "template"); msgs != nil && msgs[s.Template] == nil && s.Template != "" {
			p.errorf(tn, "step %s: no notification template %q in %s", s.Name, s.Template, TemplatesFile)
		}
	case KindNote:
		s.Text = p.template(v, s.Name+".note")
	case KindResolve:
		if r, ok := p.str(v, "resolve"); ok && !slices.Contains(Resolutions, r) {
			p.errorf(v, "step %s: resolve as %q: one of %s", s.Name, r, strings.Join(Resolutions, ", "))
		} else {
			s.Resolution = r
		}
		if t := keys["text"]; t != nil {
			s.Text = p.template(t, s.Name+".text")
		}
	}
	if t := keys["timeout"]; t != nil {
		if d, err := time.ParseDuration(t.Value); err != nil || d <= 0 || d > 30*24*time.Hour {
			p.errorf(t, "step %s: timeout %q must be a duration such as 30m or 4h, at most 720h", s.Name, t.Value)
		} else {
			s.Timeout = d
		}
	}
	if on := keys["on"]; on != nil {
		pairs, _ := p.mapping(on, "on", Outcomes...)
		s.On = map[string]string{}
		for _, kv := range pairs {
			s.On[kv.key], _ = p.str(kv.v, "on."+kv.key)
		}
	}
}

func (p *parser) action(s *Step, v, argsNode *yaml.Node) {
	if s.Kind == KindEnrich && s.Action == EnrichContext {
		if argsNode != nil {
			p.errorf(argsNode, "step %s: enrich: context takes no args", s.Name)
		}
		return
	}
	kind, ok := ActionKinds[s.Action]
	if !ok {
		if s.Action != "" {
			p.errorf(v, "step %s: unknown action %q (one of %s)", s.Name, s.Action, strings.Join(sortedKeys(ActionKinds), ", "))
		}
		return
	}
	if s.Kind == KindEnrich && !slices.Contains([]string{"osquery", "collect-file"}, s.Action) {
		p.errorf(v, "step %s: enrich runs context, osquery or collect-file; %s changes the PC, use contain", s.Name, s.Action)
	}
	s.Args = map[string]*template.Template{}
	if argsNode != nil {
		known := append(append([]string{}, kind.Required...), kind.Optional...)
		pairs, _ := p.mapping(argsNode, "args", known...)
		for _, kv := range pairs {
			if t := p.template(kv.v, s.Name+".args."+kv.key); t != nil {
				s.Args[kv.key] = t
			}
		}
	}
	for _, r := range kind.Required {
		if argsNode == nil || !p.hasKey(argsNode, r) {
			p.errorf(v, "step %s: %s needs args.%s", s.Name, s.Action, r)
		}
	}
}

func (p *parser) hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (p *parser) template(n *yaml.Node, name string) *template.Template {
	text, ok := p.str(n, name)
	if !ok {
		return nil
	}
	t, err := parseTemplate(name, text)
	if err != nil {
		p.errorf(n, "%s: %v", name, err)
		return nil
	}
	return t
}

func (p *parser) approval(s *Step, n *yaml.Node) {
	if n == nil {
		return
	}
	a := &Approval{People: 1}
	if n.Kind == yaml.ScalarNode {
		a.Role, _ = p.str(n, "approve")
	} else {
		pairs, _ := p.mapping(n, "approve", "role", "people", "two_from_level")
		for _, kv := range pairs {
			switch kv.key {
			case "role":
				a.Role, _ = p.str(kv.v, "approve.role")
			case "people":
				if v, ok := p.integer(kv.v, "approve.people"); ok && (v < 1 || v > 3) {
					p.errorf(kv.v, "approve.people must be 1, 2 or 3")
				} else {
					a.People = v
				}
			case "two_from_level":
				if v, ok := p.integer(kv.v, "approve.two_from_level"); ok && (v < 1 || v > 5) {
					p.errorf(kv.v, "approve.two_from_level must be a cấp độ from 1 to 5")
				} else {
					a.TwoFromLevel = v
				}
			}
		}
	}
	if !slices.Contains(Roles, a.Role) {
		p.errorf(n, "step %s: approve needs a role, one of %s (got %q)", s.Name, strings.Join(Roles, ", "), a.Role)
	}
	s.Approve = a
}

func (p *parser) rollback(s *Step, n *yaml.Node) {
	s.Rollback = ActionKinds[s.Action].Undo
	if n == nil {
		return
	}
	r, _ := p.str(n, "rollback")
	switch {
	case r == "none":
		s.Rollback = ""
	case r != ActionKinds[s.Action].Undo:
		p.errorf(n, "step %s: %s is undone by %q (or rollback: none), not %q", s.Name, s.Action, ActionKinds[s.Action].Undo, r)
	}
}
