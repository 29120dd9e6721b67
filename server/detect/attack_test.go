package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// miniAttack reads the small STIX bundle under testdata/attack, written for
// these tests in the shape of MITRE's enterprise-attack.json.
func miniAttack(t testing.TB) *Attack {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "attack", "mini-enterprise-attack.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := ParseAttackSTIX(f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// useAttack puts a in use for the rest of the test.
func useAttack(t testing.TB, a *Attack) {
	SetAttack(a)
	t.Cleanup(func() { SetAttack(nil) })
}

func TestParseAttackSTIX(t *testing.T) {
	a := miniAttack(t)
	if a.Source != "Enterprise ATT&CK" || a.Version != "19.0" {
		t.Errorf("source %q version %q", a.Source, a.Version)
	}
	if got := fmt.Sprint(a.Tactics()); got != "[{TA0002 Execution execution} {TA0004 Privilege Escalation privilege-escalation} {TA0005 Stealth stealth} {TA0112 Defense Impairment defense-impairment}]" {
		t.Errorf("tactics %s", got)
	}
	if a.NumTechniques() != 5 {
		t.Errorf("%d techniques, want 5", a.NumTechniques())
	}
	for tag, want := range map[string]string{
		"attack.t1059.001": "T1059.001 PowerShell [execution]",
		"attack.T1059":     "T1059 Command and Scripting Interpreter [execution]",
		"attack.t1055":     "T1055 Process Injection [privilege-escalation stealth]",
	} {
		tq, ok := a.Technique(tag)
		if got := fmt.Sprint(tq.ID, " ", tq.Name, " ", tq.Tactics); !ok || got != want {
			t.Errorf("%s: %s (%v), want %s", tag, got, ok, want)
		}
	}
	if tq, _ := a.Technique("attack.t1086"); !tq.Revoked || tq.RevokedBy != "T1059.001" {
		t.Errorf("T1086: %+v, want revoked by T1059.001", tq)
	}
	if tc, ok := a.Tactic("attack.defense_evasion"); !ok || tc.ID != "TA0005" || tc.Name != "Stealth" || tc.Short != "defense-evasion" {
		t.Errorf("defense_evasion: %+v %v, want TA0005 under its own short name", tc, ok)
	}
}

func TestParseAttackSTIXErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"type": "bundle", "objects": [`, "unexpected EOF"},
		{`{"type": "indicator", "objects": []}`, `type "indicator", want a STIX bundle`},
		{`{"type": "bundle", "objects": [{"type": "attack-pattern", "name": "X", "external_references": [{"source_name": "mitre-attack", "external_id": "T1000"}]}]}`, "holds no tactic"},
	} {
		_, err := ParseAttackSTIX(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestAttackTagProblems(t *testing.T) {
	tests := []struct {
		tag              string
		builtin, bundled string
	}{
		{"attack.execution", "", ""},
		{"attack.Privilege_Escalation", "", ""},
		{"attack.defense-evasion", "", ""},
		{"attack.defense-impairment", "", ""},
		{"attack.t1059.001", "", ""},
		{"attack.t9999", "", "names no technique of ATT&CK 19.0 (Enterprise ATT&CK)"},
		{"attack.t1086", "", "names a revoked technique (now T1059.001)"},
		{"attack.t1064", "", "names a deprecated technique"},
		{"attack.g0016", "", ""},
		{"attack.s0002", "", ""},
		{"attack.g9999", "", "names no group, software, campaign, mitigation or data source of ATT&CK 19.0 (Enterprise ATT&CK)"},
		{"attack.privilege-escalaton", "names no tactic or technique of ATT&CK (built-in)", "names no tactic or technique of ATT&CK 19.0 (Enterprise ATT&CK)"},
		{"cve.2021-44228", "", ""},
	}
	builtin, bundled := BuiltinAttack(), miniAttack(t)
	for _, tt := range tests {
		if got := builtin.TagProblem(tt.tag); got != tt.builtin {
			t.Errorf("built-in, %s: %q, want %q", tt.tag, got, tt.builtin)
		}
		if got := bundled.TagProblem(tt.tag); got != tt.bundled {
			t.Errorf("bundle, %s: %q, want %q", tt.tag, got, tt.bundled)
		}
	}
}

// TestAlertAttackNames: with a bundle in use, alerts name their techniques
// (sub-techniques by their own name) beside the IDs, an ID the bundle does
// not hold keeps its place with an empty name, and the encoder writes the
// same bytes as the alert event.
func TestAlertAttackNames(t *testing.T) {
	useAttack(t, miniAttack(t))
	a := AlertSpec{RuleID: "r", Tags: []string{"attack.execution", "attack.t1059.001", "attack.T1059", "attack.t9999", "attack.defense_evasion"}}.Base("a", time.Unix(0, 0))
	want := map[string]string{
		"threat.framework":      "MITRE ATT&CK",
		"threat.technique.id":   "[T1059.001 T1059 T9999]",
		"threat.technique.name": "[PowerShell Command and Scripting Interpreter ]",
		"threat.tactic.id":      "[TA0002 TA0005]",
		"threat.tactic.name":    "[execution defense-evasion]",
	}
	for k, v := range want {
		if got := fmt.Sprint(a.Fields[k]); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	rule := "title: T\nid: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\ntags: [attack.execution, attack.t1059.001, attack.t1086]\n" +
		"logsource: {product: test}\ndetection:\n  sel:\n    x: 1\n  condition: sel\n"
	e := engineFor(t, rule)
	ev := testEvent(testDataset, F{"x": 1})
	ms := e.Match(ev)
	if len(ms) != 1 {
		t.Fatalf("%d matches, want 1", len(ms))
	}
	if got := fmt.Sprint(ms[0].Alert(ev).Fields["threat.technique.name"]); got != "[PowerShell PowerShell]" {
		t.Errorf("technique names %s", got)
	}
	var enc AlertEncoder
	sameAlert(t, &enc, "bundle", ms, ev)
}

// TestAlertBuiltinAttack: without a bundle, technique IDs go through by
// their shape, with no names.
func TestAlertBuiltinAttack(t *testing.T) {
	a := AlertSpec{RuleID: "r", Tags: []string{"attack.t1059.001", "attack.stealth"}}.Base("a", time.Unix(0, 0))
	if _, ok := a.Fields["threat.technique.name"]; ok {
		t.Error("the built-in table named a technique")
	}
	if got := fmt.Sprint(a.Fields["threat.technique.id"], a.Fields["threat.tactic.id"]); got != "[T1059.001] [TA0005]" {
		t.Errorf("got %s", got)
	}
}

// TestAttackWarnings: rules check's warnings name the file, the tag's line
// and column, and the tag.
func TestAttackWarnings(t *testing.T) {
	useAttack(t, miniAttack(t))
	src := "title: T\nid: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\ntags:\n  - attack.execution\n  - attack.t1086\n  - attack.exection\n" +
		"logsource: {product: test}\ndetection:\n  sel:\n    x: 1\n  condition: sel\n"
	r, err := ParseRule("r.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := r.AttackWarnings().Error()
	want := "r.yml:5:5: tag \"attack.t1086\" names a revoked technique (now T1059.001)\n" +
		"r.yml:6:5: tag \"attack.exection\" names no tactic or technique of ATT&CK 19.0 (Enterprise ATT&CK)"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	r, err = ParseRule("s.yml", []byte(strings.Replace(src, "tags:\n  - attack.execution\n  - attack.t1086\n  - attack.exection\n", "tags: attack.t9999\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.AttackWarnings().Error(); !strings.HasPrefix(got, "s.yml:3:7: tag \"attack.t9999\"") {
		t.Errorf("a tag written as a string: %s", got)
	}
}

// TestSigmaHQAttackTags: every attack.* tag of SigmaHQ's rules names a
// tactic of the built-in table, a technique, or another ATT&CK object (or
// rules check lists it), and every tactic tag gives its alerts a tactic.
func TestSigmaHQAttackTags(t *testing.T) {
	e, _ := sigmaHQ(t)
	tags, tactics := 0, 0
	for _, r := range e.Rules() {
		warned := map[string]bool{}
		for _, w := range r.AttackWarnings() {
			warned[w.Msg] = true
		}
		ids := fmt.Sprint(AlertSpec{RuleID: r.ID, Tags: r.Tags}.Base("a", time.Unix(0, 0)).Fields["threat.tactic.id"])
		for _, tag := range r.Tags {
			if !strings.HasPrefix(strings.ToLower(tag), "attack.") {
				continue
			}
			tags++
			if msg := CurrentAttack().TagProblem(tag); msg != "" {
				if !warned[fmt.Sprintf("tag %q %s", tag, msg)] {
					t.Errorf("%s: tag %s neither maps nor is reported", r.File, tag)
				}
				t.Errorf("%s: tag %s: %s", r.File, tag, msg)
				continue
			}
			if tc, ok := CurrentAttack().Tactic(tag); ok {
				tactics++
				if !strings.Contains(ids, tc.ID) {
					t.Errorf("%s: tag %s, alert tactics %s", r.File, tag, ids)
				}
			}
		}
	}
	t.Logf("%d attack.* tags over %d rules, %d of them tactics", tags, len(e.Rules()), tactics)
	if tactics < 1000 {
		t.Errorf("%d tactic tags, want SigmaHQ's thousands", tactics)
	}
}

// FuzzParseAttackSTIX: any bytes either fail to parse or give a table
// with tactics whose tags resolve without panicking.
func FuzzParseAttackSTIX(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "attack", "mini-enterprise-attack.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"x-mitre-tactic","x_mitre_shortname":"x","external_references":[{"source_name":"mitre-attack","external_id":"TA1"}]}]}`))
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"relationship","relationship_type":"revoked-by","source_ref":"a","target_ref":"a"}]}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		a, err := ParseAttackSTIX(strings.NewReader(string(src)))
		if err != nil {
			return
		}
		if len(a.Tactics()) == 0 {
			t.Fatal("a table without tactics")
		}
		for _, tag := range []string{"attack.execution", "attack.t1059.001", "attack.g0016", "attack.x"} {
			_ = a.TagProblem(tag)
		}
	})
}

// TestAttackOlderRelease: a bundle from before v19 holds Defense Evasion
// under its own short name; stealth is then not a tactic.
func TestAttackOlderRelease(t *testing.T) {
	a, err := ParseAttackSTIX(strings.NewReader(`{"type":"bundle","objects":[
		{"type":"x-mitre-collection","name":"Enterprise ATT&CK","x_mitre_version":"18.0"},
		{"type":"x-mitre-tactic","name":"Defense Evasion","x_mitre_shortname":"defense-evasion","external_references":[{"source_name":"mitre-attack","external_id":"TA0005"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(a.Tactics()); got != "[{TA0005 Defense Evasion defense-evasion}]" {
		t.Errorf("tactics %s", got)
	}
	if a.TagProblem("attack.stealth") == "" {
		t.Error("stealth is a tactic of ATT&CK 18")
	}
}
