package playbook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Case is one test case of a playbook: an incident in, the steps expected
// out (each "what → outcome", as StepRecord.Line writes it; none when the
// playbook must not trigger), and the outcome each action or step gets
// (by step name; done when not named).
type Case struct {
	Name     string            `yaml:"name"`
	Incident CaseIncident      `yaml:"incident"`
	Outcomes map[string]string `yaml:"outcomes"`
	Steps    []string          `yaml:"steps"`
	line     int
}

// CaseIncident is the incident of a test case.
type CaseIncident struct {
	ID       string           `yaml:"id"`
	Title    string           `yaml:"title"`
	Severity string           `yaml:"severity"`
	Unit     string           `yaml:"unit"`
	Units    []string         `yaml:"units"`
	Level    int              `yaml:"level"`
	Systems  []string         `yaml:"systems"`
	Host     CaseHost         `yaml:"host"`
	Alerts   []map[string]any `yaml:"alerts"`
}

// CaseHost is the host of a test case's incident.
type CaseHost struct {
	ID   string   `yaml:"id"`
	Name string   `yaml:"name"`
	IP   []string `yaml:"ip"`
}

// Candidate is the incident as the engine would see it.
func (ci CaseIncident) Candidate() Candidate {
	id := ci.ID
	if id == "" {
		id = "test-incident"
	}
	inc := IncidentData{ID: id, Title: ci.Title, Severity: ci.Severity, Status: "new", Unit: ci.Unit, Units: ci.Units,
		Host: HostData{ID: ci.Host.ID, Name: ci.Host.Name, IPs: ci.Host.IP}, Systems: ci.Systems, Level: ci.Level,
		AlertCount: len(ci.Alerts)}
	for _, al := range ci.Alerts {
		if r := text(al["rule.id"]); r != "" && !slices.Contains(inc.Rules, r) {
			inc.Rules = append(inc.Rules, r)
		}
	}
	if len(ci.Alerts) > 0 {
		inc.Rule = RuleData{ID: text(ci.Alerts[0]["rule.id"]), Name: text(ci.Alerts[0]["rule.name"])}
	}
	return Candidate{Incident: inc, Alerts: ci.Alerts}
}

// ParseCases parses a test-case file strictly.
func ParseCases(file string, src []byte) ([]Case, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	var cases []Case
	if err := dec.Decode(&cases); err != nil {
		p := &parser{file: file}
		p.yamlError(err)
		return nil, errors.Join(p.errs...)
	}
	var nodes []yaml.Node
	if err := yaml.Unmarshal(src, &nodes); err == nil && len(nodes) == len(cases) {
		for i := range cases {
			cases[i].line = nodes[i].Line
		}
	}
	for i, c := range cases {
		for step, o := range c.Outcomes {
			if !slices.Contains(Outcomes, o) {
				return nil, &Error{File: file, Line: c.line, Col: 1, Msg: fmt.Sprintf("case %q: outcomes.%s: %q is not one of %s", c.Name, step, o, strings.Join(Outcomes, ", "))}
			}
		}
		if c.Name == "" {
			return nil, &Error{File: file, Line: c.line, Col: 1, Msg: fmt.Sprintf("case %d has no name", i+1)}
		}
	}
	return cases, nil
}

// Results is what RunTests found.
type Results struct {
	Passed, Failed int
	// Failures explain each failed case, and each file that could not be
	// tested, with file:line.
	Failures []error
}

// RunTests runs the test cases of every playbook of set whose file is
// under name, read from fsys at root (the directory Load read), with the
// policy given. A playbook without a test file, or without both a case
// that triggers and one that does not, fails.
func RunTests(set *Set, fsys fs.FS, root, name string, policy Policy) Results {
	var res Results
	for _, pb := range set.Playbooks {
		rel := strings.TrimPrefix(strings.TrimPrefix(pb.File, name), "/")
		testsFile := strings.TrimSuffix(rel, ".yml") + TestsSuffix
		shown := strings.TrimSuffix(pb.File, ".yml") + TestsSuffix
		src, err := fs.ReadFile(fsys, path.Join(root, testsFile))
		if err != nil {
			res.Failed++
			res.Failures = append(res.Failures, fmt.Errorf("%s: playbook %s has no test cases: %w", shown, pb.ID, err))
			continue
		}
		cases, err := ParseCases(shown, src)
		if err != nil {
			res.Failed++
			res.Failures = append(res.Failures, err)
			continue
		}
		var fired, quiet bool
		for _, c := range cases {
			got := runCase(set, pb, c, policy)
			if len(got) == 0 {
				quiet = true
			} else {
				fired = true
			}
			if slices.Equal(got, c.Steps) {
				res.Passed++
				continue
			}
			res.Failed++
			res.Failures = append(res.Failures, fmt.Errorf("%s:%d: case %q: steps differ\n  want:\n%s  got:\n%s",
				shown, c.line, c.Name, listLines(c.Steps), listLines(got)))
		}
		if !fired || !quiet {
			res.Failed++
			res.Failures = append(res.Failures, fmt.Errorf("%s: playbook %s needs a case that triggers it and a case that does not", shown, pb.ID))
		}
	}
	return res
}

func listLines(l []string) string {
	if len(l) == 0 {
		return "    (nothing: the playbook does not trigger)\n"
	}
	var b strings.Builder
	for _, s := range l {
		fmt.Fprintf(&b, "    - %s\n", s)
	}
	return b.String()
}

// runCase plays one case through the run machine and returns its lines.
func runCase(set *Set, pb *Playbook, c Case, policy Policy) []string {
	cand := c.Incident.Candidate()
	alert, ok := pb.Trigger.Match(cand)
	if !ok {
		return nil
	}
	sim := &simulation{at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), outcomes: c.Outcomes, set: set}
	m := &machine{set: set, policy: policy, fx: sim}
	r := newRun(pb, cand.Incident, alert, sim.now())
	ctx := context.Background()
	for i := 0; i < maxMoves && !r.Finished(); i++ {
		if err := m.advance(ctx, r); err != nil {
			sim.lines = append(sim.lines, "error: "+err.Error())
			break
		}
	}
	return sim.lines
}

// newRun starts a run of pb for an incident, triggered by alert.
func newRun(pb *Playbook, inc IncidentData, alert map[string]any, now time.Time) *Run {
	return &Run{
		ID: RunID(inc.ID, pb.ID), Playbook: pb.ID, Incident: inc.ID, Status: RunRunning,
		Data:    Data{Incident: inc, Alert: alert, Playbook: PlaybookData{ID: pb.ID, Title: pb.Title}},
		Started: now, Updated: now, Log: []StepRecord{},
	}
}

// simulation carries out steps as a test case says they end.
type simulation struct {
	at       time.Time
	outcomes map[string]string
	set      *Set
	lines    []string
	stepName string
	actions  map[string]string // action ID → step name
}

func (s *simulation) now() time.Time { return s.at }

func (s *simulation) outcome(step string) string {
	if o, ok := s.outcomes[step]; ok {
		return o
	}
	return OutcomeDone
}

func (s *simulation) request(_ context.Context, r ActionRequest) (string, error) {
	step := r.Key[strings.LastIndex(r.Key, "/")+1:]
	if strings.Contains(r.Key, "/undo/") {
		return "undo-" + step, nil
	}
	if s.outcome(step) == OutcomeUnavailable {
		return "", errUnavailable
	}
	if s.actions == nil {
		s.actions = map[string]string{}
	}
	id := fmt.Sprintf("action-%d", len(s.actions)+1)
	s.actions[id] = step
	return id, nil
}

func (s *simulation) status(_ context.Context, id string) (ActionStatus, error) {
	switch s.outcome(s.actions[id]) {
	case OutcomeRefused:
		return ActionStatus{State: ActionRefused}, nil
	case OutcomeFailed:
		return ActionStatus{State: ActionFailed}, nil
	case OutcomeTimedOut:
		// Nobody answers: the clock runs past any deadline.
		s.at = s.at.Add(365 * 24 * time.Hour)
		return ActionStatus{State: ActionPending}, nil
	}
	return ActionStatus{State: ActionSucceeded}, nil
}

func (s *simulation) cancel(context.Context, string, string) error { return nil }

func (s *simulation) immediate(key string) error {
	switch s.outcome(key[strings.LastIndex(key, "/")+1:]) {
	case OutcomeUnavailable:
		return errUnavailable
	case OutcomeFailed, OutcomeRefused, OutcomeTimedOut:
		return templateError{errors.New("failed in the test case")}
	}
	return nil
}

func (s *simulation) notify(_ context.Context, key, _ string, m *Message, d Data) error {
	if m != nil {
		if _, _, err := m.Render(d); err != nil {
			return templateError{err}
		}
	}
	return s.immediate(key)
}

func (s *simulation) note(_ context.Context, r *Run, _ string) error {
	return s.immediate(r.Pending.Key)
}
func (s *simulation) resolve(_ context.Context, r *Run, _, _ string) error {
	return s.immediate(r.Pending.Key)
}
func (s *simulation) context(_ context.Context, r *Run) (string, error) {
	return "", s.immediate(r.Pending.Key)
}
func (s *simulation) record(_ context.Context, _ *Run, rec StepRecord) {
	s.lines = append(s.lines, rec.Line())
}
func (s *simulation) save(context.Context, *Run) error { return nil }
