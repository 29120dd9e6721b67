package report

import (
	"slices"
	"time"

	"lachan/server/system"
)

// facts are what the evaluators read: the gathered system part and the
// rules it is held to.
type facts struct {
	part   *SystemPart
	policy system.Policy
	cfg    Config
	end    time.Time
	// lastAssessment is the assessor's last assessment as registered at
	// the period's end.
	lastAssessment time.Time
	bundle         string
}

type evaluator func(f facts) (string, Gap)

// evaluators are the evidence the platform holds, by the names
// controls.yml uses.
var evaluators = map[string]evaluator{
	"layer_on_site":      layerEval(1),
	"layer_monitoring":   layerEval(2),
	"layer_upstream":     layerEval(4),
	"network_monitoring": networkEval,
	"agents_reporting":   agentsEval,
	"malware_scan":       scanEval,
	"rule_bundle":        bundleEval,
	"endpoint_logs":      logsEval,
	"registry_history":   historyEval,
	"incident_ack":       tallyEval(func(s IncidentStats) Tally { return s.Ack }, "ev.ack"),
	"incident_resolve":   tallyEval(func(s IncidentStats) Tally { return s.Resolve }, "ev.resolve"),
	"tt20_notification":  tallyEval(func(s IncidentStats) Tally { return s.Notify }, "ev.notify"),
	"tt20_final":         tallyEval(func(s IncidentStats) Tally { return s.Final }, "ev.final"),
	"assessment":         assessmentEval,
}

// EvidenceNames lists the evidence the evaluator knows, sorted.
func EvidenceNames() []string {
	out := make([]string, 0, len(evaluators))
	for k := range evaluators {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Evaluate marks every control that applies at the system's level.
func Evaluate(controls []Control, f facts) []ControlResult {
	var out []ControlResult
	for _, c := range controls {
		if !c.Applies(f.part.Level) {
			continue
		}
		st, why := evaluators[c.Evidence](f)
		out = append(out, ControlResult{Control: c, Status: st, Reason: why})
	}
	return out
}

// fullShare is the share of days a layer must work to count as in place.
const fullShare = 0.9

func layerEval(n int) evaluator {
	return func(f facts) (string, Gap) {
		l := f.part.Layers[n-1]
		switch {
		case l.Party == "":
			return NotMet, Gap{Key: "ev.layer.none", Args: []any{n}}
		case l.Share < 0:
			return NotAssessable, Gap{Key: "ev.layer.unknown", Args: []any{n, l.Party}}
		case l.Share < fullShare:
			return NotMet, Gap{Key: "ev.layer.short", Args: []any{n, l.Days, l.DaysTotal}}
		}
		return Met, Gap{Key: "ev.layer.ok", Args: []any{n, l.Party, l.Days, l.DaysTotal}}
	}
}

func networkEval(f facts) (string, Gap) {
	if len(f.part.Days) == 0 {
		return NotAssessable, Gap{Key: "ev.nodays"}
	}
	if len(f.part.Networks) == 0 {
		return NotMet, Gap{Key: "ev.net.noranges"}
	}
	n := 0
	for _, d := range f.part.Days {
		if d.NetworkSeen {
			n++
		}
	}
	if float64(n) < fullShare*float64(len(f.part.Days)) {
		return NotMet, Gap{Key: "ev.net.short", Args: []any{n, len(f.part.Days)}}
	}
	return Met, Gap{Key: "ev.net.ok", Args: []any{n, len(f.part.Days)}}
}

func agentsEval(f facts) (string, Gap) {
	a := f.part.Agents
	switch {
	case a.Installed == 0:
		return NotMet, Gap{Key: "ev.agents.none"}
	case float64(a.Reporting) < f.cfg.AgentMinFraction*float64(a.Installed):
		return NotMet, Gap{Key: "ev.agents.short", Args: []any{a.Reporting, a.Installed}}
	}
	return Met, Gap{Key: "ev.agents.ok", Args: []any{a.Reporting, a.Installed}}
}

func scanEval(f facts) (string, Gap) {
	a := f.part.Agents
	switch {
	case a.Installed == 0:
		return NotAssessable, Gap{Key: "ev.agents.none"}
	case a.NeverScan > 0:
		return NotMet, Gap{Key: "ev.scan.never", Args: []any{a.NeverScan, a.Installed}}
	case f.end.Sub(a.OldestScan) > f.cfg.ScanMaxAge:
		return NotMet, Gap{Key: "ev.scan.old", Args: []any{a.OldestScan, days(f.cfg.ScanMaxAge)}}
	}
	return Met, Gap{Key: "ev.scan.ok", Args: []any{a.OldestScan}}
}

func bundleEval(f facts) (string, Gap) {
	a := f.part.Agents
	switch {
	case a.Installed == 0:
		return NotAssessable, Gap{Key: "ev.agents.none"}
	case f.bundle == "":
		return NotAssessable, Gap{Key: "ev.bundle.none"}
	}
	for _, c := range a.Bundles {
		if c.Key != f.bundle {
			return NotMet, Gap{Key: "ev.bundle.old", Args: []any{c.N, f.bundle}}
		}
	}
	return Met, Gap{Key: "ev.bundle.ok", Args: []any{f.bundle}}
}

func logsEval(f facts) (string, Gap) {
	if f.part.Agents.Installed == 0 {
		return NotMet, Gap{Key: "ev.agents.none"}
	}
	n := 0
	for _, d := range f.part.Days {
		if d.Events > 0 {
			n++
		}
	}
	if n < len(f.part.Days) {
		return NotMet, Gap{Key: "ev.logs.short", Args: []any{n, len(f.part.Days)}}
	}
	return Met, Gap{Key: "ev.logs.ok", Args: []any{n, len(f.part.Days)}}
}

func historyEval(f facts) (string, Gap) {
	if len(f.part.Changes) == 0 {
		// A system registered before the registry kept history has none.
		return NotAssessable, Gap{Key: "ev.history.none"}
	}
	return Met, Gap{Key: "ev.history.ok", Args: []any{len(f.part.Changes)}}
}

func tallyEval(get func(IncidentStats) Tally, key string) evaluator {
	return func(f facts) (string, Gap) {
		t := get(f.part.Incidents)
		switch {
		case t.Met+t.Missed+t.Open == 0:
			return NotAssessable, Gap{Key: "ev.noincidents"}
		case t.Missed > 0:
			return NotMet, Gap{Key: key + ".missed", Args: []any{t.Missed, t.Met + t.Missed + t.Open}}
		}
		return Met, Gap{Key: key + ".ok", Args: []any{t.Met, t.Open}}
	}
}

func assessmentEval(f facts) (string, Gap) {
	iv := time.Duration(f.policy.AssessmentInterval)
	switch {
	case f.lastAssessment.IsZero():
		return NotMet, Gap{Key: "ev.assess.none"}
	case f.end.Sub(f.lastAssessment) > iv:
		return NotMet, Gap{Key: "ev.assess.old", Args: []any{f.lastAssessment, days(iv)}}
	}
	return Met, Gap{Key: "ev.assess.ok", Args: []any{f.lastAssessment, days(iv)}}
}

func days(d time.Duration) int { return int(d.Round(24*time.Hour) / (24 * time.Hour)) }
