package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"lachan/internal/bundle"
)

// PathRulebook lists the rules the server runs and the rule files it
// could not load.
const PathRulebook = "/api/v1/rules/status"

// RuleInfo is one loaded rule.
type RuleInfo struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Level    string `json:"level,omitempty"`
	Status   string `json:"status,omitempty"`
	File     string `json:"file,omitempty"`
	Warnings int    `json:"warnings,omitempty"`
	// Off is set for a rule switched off at run time (PathRuleSwitch).
	Off bool `json:"off,omitempty"`
}

// RuleSet is one kind of rules: what loaded and what failed, each
// failure with its file:line.
type RuleSet struct {
	Name    string     `json:"name"`
	Version string     `json:"version,omitempty"`
	Rules   []RuleInfo `json:"rules"`
	Failed  []string   `json:"failed,omitempty"`
	// Switchable says whether rules of the set can be turned on and off
	// at run time (PathRuleSwitch); a rule of another set is turned off by
	// removing its file.
	Switchable bool `json:"switchable"`
}

// Rulebook collects the rule sets as the server loads them at start.
type Rulebook struct {
	mu   sync.Mutex
	sets []RuleSet
	// off are the rules switched off ("set/id"), as last read.
	off atomic.Pointer[map[string]bool]
}

// Add records a set, in place of one of the same name (a content change
// reloads the rules).
func (b *Rulebook) Add(s RuleSet) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.IndexFunc(b.sets, func(o RuleSet) bool { return o.Name == s.Name }); i >= 0 {
		b.sets[i] = s
		return
	}
	b.sets = append(b.sets, s)
}

// Sets returns the recorded sets, each rule marked off when it is
// switched off.
func (b *Rulebook) Sets() []RuleSet {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]RuleSet, 0, len(b.sets))
	for _, s := range b.sets {
		s.Switchable = slices.Contains(switchable, s.Name)
		s.Rules = slices.Clone(s.Rules)
		for i := range s.Rules {
			s.Rules[i].Off = !b.Enabled(s.Name, s.Rules[i].ID)
		}
		out = append(out, s)
	}
	return out
}

// rulebook answers the loaded rule sets and the YARA bundle agents get.
// Rules are the same for every unit, so the answer is not scoped; it
// needs events.read, the right of those who read what the rules match.
func (s *Server) rulebook(w http.ResponseWriter, r *http.Request, p Principal) {
	var sets []RuleSet
	if s.d.Rulebook != nil {
		sets = s.d.Rulebook.Sets()
	}
	rb := s.rulesNow()
	yara := RuleSet{Name: "yara", Version: rb.version, Rules: []RuleInfo{}}
	var b bundle.Bundle
	if len(rb.signed.Payload) > 0 && json.Unmarshal(rb.signed.Payload, &b) == nil {
		for _, f := range b.Files {
			yara.Rules = append(yara.Rules, RuleInfo{ID: f.Path, Title: f.Path, File: f.Path})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sets": append(sets, yara)})
}

func (s *Server) rulebookRoutes(mux *http.ServeMux) {
	s.route(mux, "GET "+PathRulebook, PermEventsRead, s.rulebook)
	s.route(mux, "PUT "+PathRuleSwitch+"{set}/{id}", PermRulesSwitch, s.switchRule)
}
