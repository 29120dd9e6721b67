package report

import (
	"errors"
	"fmt"
	"time"
)

// Report kinds.
const (
	KindSystem   = "system"
	KindUnit     = "unit"
	KindIncident = "incident"
)

// Incident report forms of TT 20/2017: the initial report and the final
// one sent when the response has ended.
const (
	FormInitial = "initial"
	FormFinal   = "final"
)

// Languages and formats.
const (
	LangVI     = "vi"
	LangEN     = "en"
	FormatPDF  = "pdf"
	FormatHTML = "html"
)

// MaxPeriod bounds a report's period: a year and a day (a leap year).
const MaxPeriod = 367 * 24 * time.Hour

func checkLang(l string) error {
	if l != LangVI && l != LangEN {
		return fmt.Errorf("language %q: want vi or en", l)
	}
	return nil
}

func checkFormat(f string) error {
	if f != FormatPDF && f != FormatHTML {
		return fmt.Errorf("format %q: want pdf or html", f)
	}
	return nil
}

// Request asks for one report.
type Request struct {
	Kind string
	// ID names the system, the unit or the incident (whole ID or prefix).
	ID string
	// From (inclusive) and To (exclusive) bound the period.
	From, To time.Time
	Form     string
	Lang     string
	Format   string
	// Units scope the caller (nil: all), as everywhere in the API.
	Units []string
}

// Validate checks a request and names the first wrong field.
func (r Request) Validate() error {
	var errs []error
	switch r.Kind {
	case KindSystem, KindUnit, KindIncident:
	default:
		errs = append(errs, fmt.Errorf("kind %q: want system, unit or incident", r.Kind))
	}
	if r.ID == "" {
		errs = append(errs, errors.New("id: empty"))
	}
	if r.Kind == KindIncident {
		if r.Form != FormInitial && r.Form != FormFinal {
			errs = append(errs, fmt.Errorf("form %q: want initial or final", r.Form))
		}
	} else {
		switch {
		case r.From.IsZero() || r.To.IsZero():
			errs = append(errs, errors.New("from, to: a period is needed"))
		case !r.To.After(r.From):
			errs = append(errs, fmt.Errorf("to %s is not after from %s", r.To.Format(time.DateOnly), r.From.Format(time.DateOnly)))
		case r.To.Sub(r.From) > MaxPeriod:
			errs = append(errs, fmt.Errorf("period %s to %s: longer than a year", r.From.Format(time.DateOnly), r.To.Format(time.DateOnly)))
		}
	}
	if err := checkLang(r.Lang); err != nil {
		errs = append(errs, err)
	}
	if err := checkFormat(r.Format); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrRequest, errors.Join(errs...))
	}
	return nil
}

// ErrRequest is a request the caller must change (the API answers 400).
var ErrRequest = errors.New("report request")

// ParseDay reads a date (2026-11-01) or an RFC 3339 time; dates are
// midnight in UTC, so that a period means the same wherever it is asked.
func ParseDay(field, s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want a date (2026-11-01) or an RFC 3339 time", field, s)
	}
	return t.UTC(), nil
}

// Report is everything one report shows, gathered before rendering.
type Report struct {
	Kind string
	Lang string
	From time.Time
	To   time.Time
	// Made is the time the report states it was made: the period's end
	// (the incident's last change for incident forms), never the clock,
	// so that the same data give the same file.
	Made time.Time
	// Unit is the unit in the page header.
	Unit    UnitRef
	Systems []SystemPart
	// Incident is set for incident forms.
	Incident *IncidentForm
}

// UnitRef names a unit.
type UnitRef struct {
	ID   string
	Name string
}

// SystemPart is the report on one information system.
type SystemPart struct {
	ID       string
	NameVI   string
	NameEN   string
	Owner    UnitRef
	Level    int
	Decision string
	// Networks are the system's registered ranges.
	Networks []string
	Layers   []LayerPart
	Agents   AgentPart
	// Days is one entry per day of the period, oldest first.
	Days      []DayPart
	Detection DetectionPart
	Incidents IncidentStats
	Notable   []IncidentRow
	Changes   []ChangePart
	Controls  []ControlResult
	Gaps      []Gap
	// Evidence lists the IDs an auditor can look up, sorted.
	Evidence []EvidenceRef
}

// LayerPart is one of the four layers over the period.
type LayerPart struct {
	Layer    int
	Party    string
	Required bool
	// Share is the fraction of the period's days the layer worked; -1
	// when nothing the platform holds can say (an upstream link's health
	// is not kept as history).
	Share float64
	// Days it worked, of DaysTotal.
	Days, DaysTotal int
}

// AgentPart is the agent coverage of a system's hosts at the period's end.
type AgentPart struct {
	Installed int
	// Reporting sent an event within the last day of the period.
	Reporting int
	// Versions counts the agents per osquery version, Bundles per rule
	// bundle version ("" when built in), both sorted by key.
	Versions []Count
	Bundles  []Count
	// LastScan is the newest full YARA scan any agent reported; OldestScan
	// the oldest (zero when an agent never reported one).
	LastScan   time.Time
	OldestScan time.Time
	NeverScan  int
	Hosts      []HostRow
}

// HostRow is one agent of the system.
type HostRow struct {
	ID, Name, Version, Bundle string
	LastSeen, LastScan        time.Time
}

// DayPart is one day of the period.
type DayPart struct {
	Day       time.Time
	Events    int64
	Reporting int64
	// NetworkSeen: the sensor recorded traffic of the system's ranges.
	NetworkSeen bool
}

// DetectionPart is the detection content in force.
type DetectionPart struct {
	// Bundle is the rule bundle the server serves and Rules its YARA
	// rule count; Sigma the number of Sigma rules loaded.
	Bundle string
	Rules  int
	Sigma  int
	// Alerts by rule in the period (the ten that fired most).
	TopRules []Count
	Alerts   int64
}

// Count is a key and how many.
type Count struct {
	Key string
	N   int64
}

// IncidentStats are a system's incidents of the period.
type IncidentStats struct {
	Total      int
	BySeverity []Count
	ByStatus   []Count
	ByTactic   []Count
	// Weeks counts incidents per week from the period's start.
	Weeks []Count
	// Ack and Resolve are measured against the level's response times;
	// Notify and Final are the TT 20/2017 clocks at the period's end.
	Ack, Resolve  Tally
	Notify, Final Tally
	// MedianAck and MedianResolve are over the incidents that have one.
	MedianAck, MedianResolve time.Duration
}

// Tally counts incidents against a deadline.
type Tally struct {
	Met, Missed, Open, NotApplicable int
}

// IncidentRow is one incident in a table.
type IncidentRow struct {
	ID       string
	Title    string
	Severity string
	Status   string
	Host     string
	First    time.Time
	Ack      time.Duration
	Resolve  time.Duration
	// Within says whether it was handled within the level's response
	// time ("met", "missed", "open").
	Within string
}

// ChangePart is one change of the system in the registry's history.
type ChangePart struct {
	At     time.Time
	By     string
	Action string
	Fields []string
}

// Gap is something to fix: a message key of the catalog and its values.
type Gap struct {
	Key  string
	Args []any
}

// EvidenceRef names a record an auditor can look up and where.
type EvidenceRef struct {
	Kind string // incident, agent, audit, event
	ID   string
}
