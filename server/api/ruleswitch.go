package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"lachan/internal/wire"
	"lachan/server/store"
)

// Rules are switched off and on at run time per rule set: the rules off
// are one KindState entity, so that every replica reads the same list,
// and each Rulebook keeps the list it last read for the detector to ask
// on each match.

// PathRuleSwitch switches one rule of a set on or off (PUT, body
// RuleSwitch): /api/v1/rules/{set}/{id}.
const PathRuleSwitch = "/api/v1/rules/"

// switchable are the rule sets the server can switch at run time: the
// Sigma rules it runs on each event. Correlation rules build on them and
// YARA rules run on the agents.
var switchable = []string{"sigma"}

// rulesOffState is the KindState entity that lists the rules switched off.
const rulesOffState = "rules-off"

// RuleSwitch is the body of PathRuleSwitch.
type RuleSwitch struct {
	Enabled bool `json:"enabled"`
}

type rulesOff struct {
	// Off are "set/id" keys.
	Off []string `json:"off"`
}

func offKey(set, id string) string { return set + "/" + id }

// Enabled reports whether a rule of a set is on: every rule is until it
// is switched off.
func (b *Rulebook) Enabled(set, id string) bool {
	off := b.off.Load()
	return off == nil || !(*off)[offKey(set, id)]
}

func (b *Rulebook) setOff(keys []string) {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	b.off.Store(&m)
}

// Refresh reads the rules switched off from st, so that a switch another
// replica made applies here too.
func (b *Rulebook) Refresh(ctx context.Context, st store.Store) error {
	doc, _, err := st.GetEntity(ctx, store.KindState, rulesOffState)
	if errors.Is(err, store.ErrNotFound) {
		b.setOff(nil)
		return nil
	}
	if err != nil {
		return fmt.Errorf("rules switched off: %w", err)
	}
	var ro rulesOff
	if err := json.Unmarshal(doc, &ro); err != nil {
		return fmt.Errorf("rules switched off: %w", err)
	}
	b.setOff(ro.Off)
	return nil
}

// RefreshEvery runs Refresh every interval until ctx ends; a failed read
// keeps the list it had and is logged by the caller's log function.
func (b *Rulebook) RefreshEvery(ctx context.Context, st store.Store, interval time.Duration, logf func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := b.Refresh(ctx, st); err != nil && ctx.Err() == nil {
				logf(err)
			}
		}
	}
}

// has reports whether set is loaded and holds a rule id.
func (b *Rulebook) has(set, id string) bool {
	for _, s := range b.Sets() {
		if s.Name == set {
			return slices.ContainsFunc(s.Rules, func(r RuleInfo) bool { return r.ID == id })
		}
	}
	return false
}

// Switch records a rule of set on or off in st and applies it here;
// other replicas read it within their refresh interval (RefreshEvery).
func (b *Rulebook) Switch(ctx context.Context, st store.Store, set, id string, on bool) error {
	var keys []string
	err := store.RetryConflicts(ctx, func() error {
		doc, ver, err := st.GetEntity(ctx, store.KindState, rulesOffState)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var ro rulesOff
		if err == nil {
			if err := json.Unmarshal(doc, &ro); err != nil {
				return fmt.Errorf("rules switched off: %w", err)
			}
		}
		k := offKey(set, id)
		ro.Off = slices.DeleteFunc(ro.Off, func(s string) bool { return s == k })
		if !on {
			ro.Off = append(ro.Off, k)
			slices.Sort(ro.Off)
		}
		nb, _ := json.Marshal(ro)
		if _, err := st.PutEntity(ctx, store.KindState, rulesOffState, nb, ver); err != nil {
			return err
		}
		keys = ro.Off
		return nil
	})
	if err != nil {
		return err
	}
	b.setOff(keys)
	return nil
}

// switchRule answers PUT PathRuleSwitch{set}/{id}: a rule of a
// switchable set that is loaded is switched, and the switch audited.
func (s *Server) switchRule(w http.ResponseWriter, r *http.Request, p Principal) {
	set, id := r.PathValue("set"), r.PathValue("id")
	var req RuleSwitch
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if !slices.Contains(switchable, set) {
		writeError(w, http.StatusNotFound, wire.Error{Error: fmt.Sprintf("rule set %q cannot be switched at run time (only %v)", set, switchable)})
		return
	}
	if s.d.Rulebook == nil || !s.d.Rulebook.has(set, id) {
		writeError(w, http.StatusNotFound, wire.Error{Error: fmt.Sprintf("no rule %s in set %s", id, set)})
		return
	}
	err := s.d.Rulebook.Switch(r.Context(), s.d.Store, set, id, req.Enabled)
	s.audit(r, p, "rule.switch", offKey(set, id), outcome(err), map[string]any{"enabled": req.Enabled})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("rule switched", "set", set, "rule", id, "enabled", req.Enabled, "by", p.Name)
	writeJSON(w, http.StatusOK, map[string]any{"set": set, "id": id, "enabled": req.Enabled})
}
