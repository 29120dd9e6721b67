package detect

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"

	"gopkg.in/yaml.v3"
)

// Attack is a table of MITRE ATT&CK: tactics by short name, and, when it
// was read from MITRE's STIX bundle, techniques and the other objects by
// ID. Alerts take their threat.* members from it and `lachan rules check`
// reports the attack.* tags it does not hold. An Attack is not changed
// once made.
type Attack struct {
	// Source says where the table came from: "built-in", or the bundle's
	// collection name and version.
	Source string
	// Version is the ATT&CK release of the bundle ("19.0"), empty for the
	// built-in table.
	Version string
	// tactics by hyphenated short name ("privilege-escalation"), aliases
	// (tactics renamed since) included.
	tactics map[string]Tactic
	// aliased are the short names addAliases put in tactics.
	aliased map[string]bool
	// techniques by upper-case ID; nil for the built-in table, which
	// takes any well-formed ID.
	techniques map[string]Technique
	// objects are the IDs of groups, software, campaigns, mitigations,
	// data sources and data components; nil as for techniques.
	objects map[string]bool
}

// Tactic is an ATT&CK tactic.
type Tactic struct {
	ID    string // TA0004
	Name  string // Privilege Escalation
	Short string // privilege-escalation
}

// Technique is an ATT&CK technique or sub-technique.
type Technique struct {
	ID   string // T1059.001
	Name string // PowerShell
	// Tactics are the short names of its tactics.
	Tactics []string
	// Revoked and Deprecated techniques are still named, and reported by
	// `lachan rules check`; RevokedBy is the ID that replaced a revoked one.
	Revoked, Deprecated bool
	RevokedBy           string
}

// builtinTactics are the tactics of ATT&CK v19 (Enterprise), so that
// alerts carry their tactic without a bundle. v19 renamed Defense Evasion
// (TA0005) Stealth and split Defense Impairment (TA0112) from it; rules
// that still say defense-evasion keep TA0005.
var builtinTactics = []Tactic{
	{"TA0043", "Reconnaissance", "reconnaissance"},
	{"TA0042", "Resource Development", "resource-development"},
	{"TA0001", "Initial Access", "initial-access"},
	{"TA0002", "Execution", "execution"},
	{"TA0003", "Persistence", "persistence"},
	{"TA0004", "Privilege Escalation", "privilege-escalation"},
	{"TA0005", "Stealth", "stealth"},
	{"TA0112", "Defense Impairment", "defense-impairment"},
	{"TA0006", "Credential Access", "credential-access"},
	{"TA0007", "Discovery", "discovery"},
	{"TA0008", "Lateral Movement", "lateral-movement"},
	{"TA0009", "Collection", "collection"},
	{"TA0011", "Command and Control", "command-and-control"},
	{"TA0010", "Exfiltration", "exfiltration"},
	{"TA0040", "Impact", "impact"},
}

// tacticAliases are former short names still written in rules, and the
// tactic that now holds their ID.
var tacticAliases = map[string]string{"defense-evasion": "TA0005"}

// BuiltinAttack returns the table built into the binary: tactics only.
func BuiltinAttack() *Attack {
	a := &Attack{Source: "built-in", tactics: map[string]Tactic{}}
	for _, t := range builtinTactics {
		a.tactics[t.Short] = t
	}
	a.addAliases()
	return a
}

// addAliases names each alias after the tactic that holds its ID, keeping
// the short name the rule wrote.
func (a *Attack) addAliases() {
	for alias, id := range tacticAliases {
		if _, ok := a.tactics[alias]; ok {
			continue
		}
		for _, t := range a.tactics {
			if t.ID == id {
				a.tactics[alias] = Tactic{ID: id, Name: t.Name, Short: alias}
				if a.aliased == nil {
					a.aliased = map[string]bool{}
				}
				a.aliased[alias] = true
				break
			}
		}
	}
}

var currentAttack atomic.Pointer[Attack]

func init() { currentAttack.Store(BuiltinAttack()) }

// SetAttack makes a the table alerts and checks use from now on; nil
// restores the built-in table. Rules keep what their alerts say from when
// they were loaded, so set it before loading rules.
func SetAttack(a *Attack) {
	if a == nil {
		a = BuiltinAttack()
	}
	currentAttack.Store(a)
}

// CurrentAttack returns the table in use.
func CurrentAttack() *Attack { return currentAttack.Load() }

// stixObject is the part of a STIX 2.x object the table reads.
type stixObject struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Name       string `json:"name"`
	Shortname  string `json:"x_mitre_shortname"`
	Version    string `json:"x_mitre_version"`
	Revoked    bool   `json:"revoked"`
	Deprecated bool   `json:"x_mitre_deprecated"`
	RelType    string `json:"relationship_type"`
	SourceRef  string `json:"source_ref"`
	TargetRef  string `json:"target_ref"`
	References []struct {
		SourceName string `json:"source_name"`
		ExternalID string `json:"external_id"`
	} `json:"external_references"`
	Phases []struct {
		KillChain string `json:"kill_chain_name"`
		Phase     string `json:"phase_name"`
	} `json:"kill_chain_phases"`
}

func (o *stixObject) attackID() string {
	for _, r := range o.References {
		if r.SourceName == "mitre-attack" && r.ExternalID != "" {
			return strings.ToUpper(r.ExternalID)
		}
	}
	return ""
}

// attackObjectTypes are the STIX types, besides tactics and techniques,
// whose ATT&CK IDs a tag may name.
var attackObjectTypes = map[string]bool{
	"intrusion-set": true, "malware": true, "tool": true, "campaign": true, "course-of-action": true,
	"x-mitre-data-source": true, "x-mitre-data-component": true,
}

// ParseAttackSTIX reads a MITRE ATT&CK STIX 2.0 or 2.1 bundle, such as
// enterprise-attack.json of MITRE's attack-stix-data, into a table.
// Objects without an ATT&CK ID (relationships aside) are ignored; a bundle
// with no tactic is refused, since every alert's tactic would be lost.
func ParseAttackSTIX(r io.Reader) (*Attack, error) {
	var b struct {
		Type    string       `json:"type"`
		Objects []stixObject `json:"objects"`
	}
	if err := json.NewDecoder(r).Decode(&b); err != nil {
		return nil, fmt.Errorf("attack stix: %w", err)
	}
	if b.Type != "bundle" {
		return nil, fmt.Errorf("attack stix: type %q, want a STIX bundle", b.Type)
	}
	a := &Attack{tactics: map[string]Tactic{}, techniques: map[string]Technique{}, objects: map[string]bool{}}
	byStix := map[string]string{} // STIX id -> ATT&CK ID of techniques
	revokedBy := map[string]string{}
	for i := range b.Objects {
		o := &b.Objects[i]
		id := o.attackID()
		switch {
		case o.Type == "x-mitre-collection":
			a.Source, a.Version = o.Name, o.Version
		case o.Type == "relationship" && o.RelType == "revoked-by":
			revokedBy[o.SourceRef] = o.TargetRef
		case id == "":
		case o.Type == "x-mitre-tactic":
			if o.Revoked || o.Deprecated {
				continue
			}
			short := strings.ToLower(o.Shortname)
			a.tactics[short] = Tactic{ID: id, Name: o.Name, Short: short}
		case o.Type == "attack-pattern":
			t := Technique{ID: id, Name: o.Name, Revoked: o.Revoked, Deprecated: o.Deprecated}
			for _, p := range o.Phases {
				if p.KillChain == "mitre-attack" {
					t.Tactics = append(t.Tactics, p.Phase)
				}
			}
			if old, dup := a.techniques[id]; dup && !old.Revoked && !old.Deprecated {
				continue // a live object wins over a revoked one of the same ID
			}
			a.techniques[id] = t
			byStix[o.ID] = id
		case attackObjectTypes[o.Type]:
			a.objects[id] = true
		}
	}
	if len(a.tactics) == 0 {
		return nil, fmt.Errorf("attack stix: the bundle holds no tactic (x-mitre-tactic)")
	}
	for from, to := range revokedBy {
		old, ok := byStix[from]
		if t := a.techniques[old]; ok && t.Revoked {
			t.RevokedBy = byStix[to]
			a.techniques[old] = t
		}
	}
	if a.Source == "" {
		a.Source = "STIX bundle"
	}
	a.addAliases()
	return a, nil
}

// Tactics returns the table's tactics in ID order, aliases left out.
func (a *Attack) Tactics() []Tactic {
	var out []Tactic
	for short, t := range a.tactics {
		if !a.aliased[short] {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// NumTechniques is the number of techniques and sub-techniques the table
// names (0 for the built-in table).
func (a *Attack) NumTechniques() int { return len(a.techniques) }

var (
	techniqueRE = regexp.MustCompile(`^attack\.t\d{4}(\.\d{3})?$`)
	// objectRE matches ATT&CK groups, software, campaigns, mitigations,
	// data sources and data components, which name no tactic.
	objectRE = regexp.MustCompile(`^attack\.(g|s|c|m|ds|dc)\d{4}$`)
)

// Tactic returns the tactic a tag (attack.privilege-escalation, with
// hyphens or underscores, any case) names.
func (a *Attack) Tactic(tag string) (Tactic, bool) {
	lt := strings.ToLower(tag)
	if !strings.HasPrefix(lt, "attack.") {
		return Tactic{}, false
	}
	t, ok := a.tactics[strings.ReplaceAll(strings.TrimPrefix(lt, "attack."), "_", "-")]
	return t, ok
}

// Technique returns the technique a tag (attack.t1059.001) names: with a
// bundle, only one the bundle holds; built in, any well-formed ID, without
// a name.
func (a *Attack) Technique(tag string) (Technique, bool) {
	lt := strings.ToLower(tag)
	if !techniqueRE.MatchString(lt) {
		return Technique{}, false
	}
	id := strings.ToUpper(strings.TrimPrefix(lt, "attack."))
	if a.techniques == nil {
		return Technique{ID: id}, true
	}
	t, ok := a.techniques[id]
	return t, ok
}

// TagProblem says what is wrong with an attack.* tag under this table, or
// "" when it names a tactic, a live technique or another ATT&CK object.
// Tags outside attack.* are not its business.
func (a *Attack) TagProblem(tag string) string {
	lt := strings.ToLower(tag)
	if !strings.HasPrefix(lt, "attack.") {
		return ""
	}
	if _, ok := a.Tactic(lt); ok {
		return ""
	}
	switch {
	case techniqueRE.MatchString(lt):
		t, ok := a.Technique(lt)
		switch {
		case !ok:
			return fmt.Sprintf("names no technique of %s", a.describe())
		case t.Revoked && t.RevokedBy != "":
			return fmt.Sprintf("names a revoked technique (now %s)", t.RevokedBy)
		case t.Revoked:
			return "names a revoked technique"
		case t.Deprecated:
			return "names a deprecated technique"
		}
		return ""
	case objectRE.MatchString(lt):
		if a.objects == nil || a.objects[strings.ToUpper(strings.TrimPrefix(lt, "attack."))] {
			return ""
		}
		return fmt.Sprintf("names no group, software, campaign, mitigation or data source of %s", a.describe())
	}
	return fmt.Sprintf("names no tactic or technique of %s", a.describe())
}

func (a *Attack) describe() string {
	if a.Version != "" {
		return fmt.Sprintf("ATT&CK %s (%s)", a.Version, a.Source)
	}
	return "ATT&CK (" + a.Source + ")"
}

// AttackWarnings returns, at file:line:col, each attack.* tag of the rule
// that the table in use does not hold, and why.
func (r *Rule) AttackWarnings() ErrorList {
	a := CurrentAttack()
	var out ErrorList
	for i, t := range r.Tags {
		if msg := a.TagProblem(t); msg != "" {
			var pos Pos
			if i < len(r.tagPos) {
				pos = r.tagPos[i]
			}
			out = append(out, &Error{File: r.File, Pos: pos, Msg: fmt.Sprintf("tag %q %s", t, msg)})
		}
	}
	return out
}

// itemPos returns the position of each of the n items of a list node, or
// of the node itself when it is not a list of n items.
func itemPos(n *yaml.Node, count int) []Pos {
	n = resolve(n)
	out := make([]Pos, count)
	for i := range out {
		if n != nil && n.Kind == yaml.SequenceNode && len(n.Content) == count {
			out[i] = nodePos(n.Content[i])
		} else {
			out[i] = nodePos(n)
		}
	}
	return out
}
