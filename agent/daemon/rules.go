package daemon

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"lachan/agent/osquery"
	"lachan/agent/yara"
	"lachan/internal/atomicfile"
	"lachan/internal/bundle"
)

// lastGoodFile keeps the last rule bundle that verified and compiled, so
// that a restart, or a bad bundle later, falls back on it.
const lastGoodFile = "rules.bundle"

// ruleSet is the YARA rules in use and where they came from: a local
// directory (which then wins over anything the server sends), the last
// good signed bundle, or the built-in rules.
type ruleSet struct {
	mu      sync.Mutex
	rules   *yara.Rules
	version string
	refused string

	// packs are the osquery packs of the bundle in use, handed to
	// onPacks (the osquery extension) whenever they change.
	packs   map[string]osquery.Pack
	onPacks func(map[string]osquery.Pack)

	local    bool
	key      ed25519.PublicKey
	stateDir string
	log      *slog.Logger
}

func newRuleSet(cfg Config, key ed25519.PublicKey, log *slog.Logger) *ruleSet {
	rs := &ruleSet{key: key, stateDir: cfg.StateDir, log: log.With("component", "rules"), local: cfg.RulesDir != ""}
	switch {
	case rs.local:
		rs.set(yara.CompileDir(cfg.RulesDir))
	case rs.loadLastGood():
	case cfg.RulesFS != nil:
		rs.set(yara.Compile(cfg.RulesFS, "."))
	}
	return rs
}

func (rs *ruleSet) set(r *yara.Rules, errs []error) {
	for _, e := range errs {
		rs.log.Warn("YARA rule file skipped", "err", e)
	}
	rs.mu.Lock()
	rs.rules = r
	rs.mu.Unlock()
}

// current returns the rules to scan with (nil when none compiled).
func (rs *ruleSet) current() *yara.Rules {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.rules
}

// state returns the bundle version in use and the last refusal.
func (rs *ruleSet) state() (version, refused string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.version, rs.refused
}

// wants reports whether the server's announced version should be fetched.
func (rs *ruleSet) wants(version string) bool {
	if rs.local || version == "" {
		return false
	}
	have, _ := rs.state()
	return version != have
}

func (rs *ruleSet) loadLastGood() bool {
	b, err := os.ReadFile(filepath.Join(rs.stateDir, lastGoodFile))
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	var s bundle.Signed
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err == nil {
		err = rs.install(s, false)
	}
	if err != nil {
		rs.log.Error("last good rule bundle unusable; using the built-in rules", "err", err)
		return false
	}
	return true
}

// Apply verifies a signed bundle against the pinned key, compiles it and
// swaps it in. On any failure the rules in use stay as they are and the
// refusal is kept for the agent's status.
func (rs *ruleSet) Apply(s bundle.Signed) error {
	err := rs.install(s, true)
	rs.mu.Lock()
	if err != nil {
		rs.refused = err.Error()
	} else {
		rs.refused = ""
	}
	rs.mu.Unlock()
	if err != nil {
		rs.log.Error("rule bundle refused; keeping the rules in use", "err", err)
	}
	return err
}

func (rs *ruleSet) install(s bundle.Signed, persist bool) error {
	if rs.key == nil {
		return errors.New("rule bundle refused: no bundle key pinned at enrollment")
	}
	b, err := bundle.Verify(s, rs.key)
	if err != nil {
		return fmt.Errorf("rule bundle refused: %w", err)
	}
	r, errs := yara.Compile(b.FS(), ".")
	if r == nil || r.Count() == 0 {
		return fmt.Errorf("rule bundle %s refused: no rule compiled (%d file errors)", short(b.Version), len(errs))
	}
	for _, e := range errs {
		rs.log.Warn("YARA rule file in bundle skipped", "version", short(b.Version), "err", e)
	}
	if persist {
		data, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(rs.stateDir, lastGoodFile), data, 0o600); err != nil {
			return fmt.Errorf("keep rule bundle: %w", err)
		}
	}
	packs, perrs := osquery.ContentPacks(b)
	for _, e := range perrs {
		rs.log.Warn("osquery pack in bundle skipped", "version", short(b.Version), "err", e)
	}
	rs.mu.Lock()
	rs.rules, rs.version, rs.packs = r, b.Version, packs
	onPacks := rs.onPacks
	rs.mu.Unlock()
	rs.log.Info("rule bundle in use", "version", short(b.Version), "rules", r.Count(), "osquery_packs", len(packs))
	if onPacks != nil {
		onPacks(packs)
	}
	return nil
}

// watchPacks hands the osquery packs of the bundle in use to fn now, and
// those of every bundle taken later.
func (rs *ruleSet) watchPacks(fn func(map[string]osquery.Pack)) {
	rs.mu.Lock()
	rs.onPacks = fn
	packs := rs.packs
	rs.mu.Unlock()
	fn(packs)
}

func short(v string) string {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}
