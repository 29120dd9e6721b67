// Package incident groups alerts into incidents (same host, whichever
// rule, within a window), keeps their case handling (status, resolution,
// notes, assignment, merges and links, each change in a history), and
// gathers their evidence: the alerts, the events behind them, and the
// network records from the same host around the same time.
package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// Statuses an incident moves through: new → acknowledged → in_progress →
// resolved, and back from resolved by a reopen (see case.go).
const (
	StatusNew          = "new"
	StatusAcknowledged = "acknowledged"
	StatusInProgress   = "in_progress"
	StatusResolved     = "resolved"

	// StatusOpen is the status incidents were stored with before case
	// handling; they read as StatusNew.
	StatusOpen = "open"
)

// Resolutions say what a resolved incident turned out to be.
const (
	ResolutionTruePositive  = "true_positive"
	ResolutionFalsePositive = "false_positive"
	ResolutionBenign        = "benign"
	ResolutionDuplicate     = "duplicate"
)

// Resolutions lists the valid resolutions.
var Resolutions = []string{ResolutionTruePositive, ResolutionFalsePositive, ResolutionBenign, ResolutionDuplicate}

// MaxEvidence caps each evidence list of one incident; past it the count
// goes on but IDs are not kept (the store still has the events).
const MaxEvidence = 1000

// Config tunes grouping.
type Config struct {
	// Window: an alert joins an open incident of the same host, whichever
	// rule raised it, whose alerts are at most this far from it.
	Window time.Duration `mapstructure:"window"`
	// NetworkWindow: network records of the incident's host this far
	// before the first or after the last alert are evidence.
	NetworkWindow time.Duration `mapstructure:"network_window"`
	// NotifyWithin is the TT 20/2017 notification deadline, counted from
	// detection (5 days).
	NotifyWithin time.Duration `mapstructure:"notify_within"`
	// FinalReportWithin is the final-report deadline, counted from the end
	// of the response (5 days).
	FinalReportWithin time.Duration `mapstructure:"final_report_within"`
	// NoticeLead: a notice is raised this long before a deadline.
	NoticeLead time.Duration `mapstructure:"notice_lead"`
	// DeadlineScan is how often the server looks for clocks to notice.
	DeadlineScan time.Duration `mapstructure:"deadline_scan"`
	// DeadlineScanMax bounds the notices raised in one scan; the rest wait
	// for the next.
	DeadlineScanMax int `mapstructure:"deadline_scan_max"`
}

// DefaultConfig groups within an hour, takes network records within 15
// minutes, and keeps the TT 20/2017 deadlines (5 days each) with a notice
// a day ahead.
func DefaultConfig() Config {
	return Config{
		Window: time.Hour, NetworkWindow: 15 * time.Minute,
		NotifyWithin: 5 * 24 * time.Hour, FinalReportWithin: 5 * 24 * time.Hour,
		NoticeLead: 24 * time.Hour, DeadlineScan: time.Minute, DeadlineScanMax: 200,
	}
}

// Validate checks the windows and deadlines.
func (c Config) Validate() error {
	var errs []error
	if c.Window <= 0 || c.NetworkWindow < 0 {
		errs = append(errs, errors.New("incident: window must be positive and network_window not negative"))
	}
	if c.NotifyWithin <= 0 || c.FinalReportWithin <= 0 {
		errs = append(errs, errors.New("incident: notify_within and final_report_within must be positive"))
	}
	if c.NoticeLead < 0 || c.NotifyWithin > 0 && c.NoticeLead >= c.NotifyWithin || c.FinalReportWithin > 0 && c.NoticeLead >= c.FinalReportWithin {
		errs = append(errs, errors.New("incident: notice_lead must be at least 0 and shorter than both deadlines"))
	}
	if c.DeadlineScan < time.Second {
		errs = append(errs, errors.New("incident: deadline_scan must be at least 1s"))
	}
	if c.DeadlineScanMax < 1 {
		errs = append(errs, errors.New("incident: deadline_scan_max must be at least 1"))
	}
	return errors.Join(errs...)
}

// Host is the machine an incident is about.
type Host struct {
	ID   string   `json:"id"`
	Name string   `json:"name,omitempty"`
	IPs  []string `json:"ip,omitempty"`
}

// Rule is a detection rule behind an incident; in Incident.Rules, Alerts
// counts the alerts it raised there.
type Rule struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Alerts int    `json:"alerts,omitempty"`
}

// Incident is the stored record.
type Incident struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Status   string `json:"status"`
	Unit     string `json:"unit"`
	Host     Host   `json:"host"`
	// Rule is the rule of the first alert and Rules every rule whose
	// alerts joined, with their counts.
	Rule       Rule      `json:"rule"`
	Rules      []Rule    `json:"rules,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	AlertCount int       `json:"alert_count"`
	AlertIDs   []string  `json:"alert_ids"`
	// Unmarked are the alerts counted in AlertCount whose marker entity
	// (store.KindIncidentAlert) may not be written yet: a retry finds them
	// here instead. An ID leaves once its marker is seen in the store, so
	// the list holds about one alert per writer.
	Unmarked   []string `json:"unmarked_alert_ids,omitempty"`
	EventIDs   []string `json:"event_ids"`
	NetworkIDs []string `json:"network_ids"`
	// Addresses are the IP addresses the evidence touches (the host's,
	// the alerts' and the network records' source and destination), at
	// most MaxAddresses: what ties an incident to systems by range.
	Addresses []string `json:"addresses,omitempty"`
	// Systems are the information systems the incident touches and Units
	// every unit that may see it (Unit, the systems' owners and on-site
	// units).
	Systems []string `json:"systems,omitempty"`
	Units   []string `json:"units,omitempty"`
	// Assignments name who handles the incident at each layer.
	Assignments []Assignment `json:"assignments,omitempty"`
	// Assignee is the person (an existing user) working the case.
	Assignee string `json:"assignee,omitempty"`
	// Resolution is what a resolved incident turned out to be (one of
	// Resolutions); DuplicateOf the incident a duplicate was merged into.
	Resolution  string `json:"resolution,omitempty"`
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Merged are the incidents merged into this one and Links the
	// incidents linked to it (both ways).
	Merged []string `json:"merged,omitempty"`
	Links  []string `json:"links,omitempty"`
	// Notes are people's notes, oldest first; History every change, who
	// made it and when.
	Notes   []Note   `json:"notes,omitempty"`
	History []Change `json:"history,omitempty"`
	// ResponseEnded is when the response ended (the incident resolved);
	// it starts the final-report clock.
	ResponseEnded time.Time `json:"response_ended,omitzero"`
	// ResponseEndedBy is who ended it.
	ResponseEndedBy string `json:"response_ended_by,omitempty"`
	// Notification and FinalReport are the TT 20/2017 deadline clocks.
	Notification Clock `json:"notification"`
	FinalReport  Clock `json:"final_report"`
	// Written is when the server last wrote the incident, by its own
	// clock (Updated may carry a lower tier's): the change index's entry
	// (changeindex.go) is named by it.
	Written time.Time `json:"written,omitzero"`
	Version uint64    `json:"-"`
	// stored is the status as last read or written ("" for one never
	// stored): put touches the open mark only when openness changes.
	stored string
	// storedMark is the open mark's document as last read or written
	// (openmark.go), so that a write that changes nothing the mark holds
	// does not rewrite it.
	storedMark string
	// storedSeen is LastSeen as last read or written: the time index's
	// entry (timeindex.go) names it.
	storedSeen time.Time
	// storedWatch is the watch list's entry (watchlist.go) as last read
	// or written, "" for none.
	storedWatch string
	// storedWritten is the time the change index's entry (changeindex.go)
	// is named by, as last read or written.
	storedWritten time.Time
}

// MaxAddresses caps Incident.Addresses.
const MaxAddresses = 64

// Detail is an incident with its evidence events read back from the store
// and its clocks as they stand.
type Detail struct {
	Incident
	Clocks   Clocks        `json:"clocks"`
	Evidence []event.Event `json:"evidence"`
}

// Manager raises and reads incidents. Set its exported fields before it
// is used.
type Manager struct {
	// UserExists reports whether a user of that name exists; assigning an
	// incident to anyone else is refused. Nil accepts any name.
	UserExists func(ctx context.Context, name string) (bool, error)
	// OnChange, when set, hears of every change a person or the server
	// made to an incident, after it is stored: who, what, which incident
	// and the change's detail. It must not block.
	OnChange func(ctx context.Context, actor, action, incidentID string, detail map[string]any)
	// OnRaised, when set, hears of the incidents each Raise created or
	// added alerts to, after they are stored. It must not block.
	OnRaised func(ctx context.Context, ids []string)

	st     store.Store
	cfg    Config
	now    func() time.Time
	router Router
	// indexed is set once the open-incident index is known to exist.
	indexed   atomic.Bool
	indexOnce sync.Mutex
	// marks are the open marks' summaries as last decoded (markcache.go).
	marks markCache
	// docs are the larger incidents as last read or written (doccache.go).
	docs docCache
	// watchBuilt is what EnsureIndex built the watch list from, until
	// the watcher logs it (watch.go).
	watchBuilt atomic.Pointer[WatchBuild]
}

// NewManager returns a manager; now is the clock (time.Now when nil).
func NewManager(st store.Store, cfg Config, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{st: st, cfg: cfg, now: now}
}

// SetRouter makes the manager tie every incident it raises or extends to
// the systems and units r finds. Call it before the manager is used.
func (m *Manager) SetRouter(r Router) { m.router = r }

// Config returns the manager's settings.
func (m *Manager) Config() Config { return m.cfg }

// Now is the manager's clock.
func (m *Manager) Now() time.Time { return m.now() }

// severities orders rule levels.
var severities = []string{"informational", "low", "medium", "high", "critical"}

func maxSeverity(a, b string) string {
	if slices.Index(severities, b) > slices.Index(severities, a) {
		return b
	}
	return a
}

func (m *Manager) newIncident(al event.Event) *Incident {
	now := m.now().UTC()
	return &Incident{
		ID:        event.DeriveID("incident", al.ID),
		Title:     al.String("rule.name") + " — " + firstNonEmpty(al.String("host.name"), al.String("host.id"), al.String("source.ip"), "unknown host"),
		Severity:  al.String("rule.level"),
		Status:    StatusNew,
		Unit:      al.String("lachan.unit"),
		Host:      Host{ID: al.String("host.id"), Name: al.String("host.name"), IPs: al.Strings("host.ip")},
		Rule:      Rule{ID: al.String("rule.id"), Name: al.String("rule.name")},
		Created:   now,
		FirstSeen: al.Timestamp,
		LastSeen:  al.Timestamp,
		// Detection is when the server raised the incident: that is when
		// the operator learnt of it, whatever the events' own clocks say.
		Notification: Clock{Due: now.Add(m.cfg.NotifyWithin)},
		History:      []Change{{At: now, By: ByDetection, Action: ActionCreated, Detail: map[string]any{"alert": al.ID, "rule": al.String("rule.id")}}},
	}
}

func addAlert(inc *Incident, al event.Event, now time.Time) {
	inc.AlertCount++
	inc.AlertIDs = appendCapped(inc.AlertIDs, al.ID)
	countRule(inc, Rule{ID: al.String("rule.id"), Name: al.String("rule.name")}, 1)
	for _, src := range al.Strings("lachan.alert.source_ids") {
		inc.EventIDs = appendCapped(inc.EventIDs, src)
	}
	inc.Severity = maxSeverity(inc.Severity, al.String("rule.level"))
	addAddresses(inc, al)
	if al.Timestamp.Before(inc.FirstSeen) {
		inc.FirstSeen = al.Timestamp
	}
	if al.Timestamp.After(inc.LastSeen) {
		inc.LastSeen = al.Timestamp
	}
	inc.Updated = now.UTC()
}

// countRule adds n alerts of r to inc.Rules.
func countRule(inc *Incident, r Rule, n int) {
	i := slices.IndexFunc(inc.Rules, func(x Rule) bool { return x.ID == r.ID })
	if i < 0 {
		r.Alerts = 0
		inc.Rules = append(inc.Rules, r)
		i = len(inc.Rules) - 1
	}
	inc.Rules[i].Alerts += n
}

func appendCapped(list []string, id string) []string {
	if len(list) >= MaxEvidence || slices.Contains(list, id) {
		return list
	}
	return append(list, id)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func (m *Manager) put(ctx context.Context, inc *Incident) error {
	m.stampWritten(inc)
	b, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("incident %s: %w", inc.ID, err)
	}
	// Every write names a change index entry of its own, written first
	// (the readers of changes allow for the time between the clock read
	// and the entry) and the one it replaces deleted last.
	if err := m.putChangeEntry(ctx, inc); err != nil {
		return err
	}
	// The open mark goes first and away last (openmark.go), and only
	// when the incident opens (new, or reopened), closes, or changes
	// what the mark sums up (status, severity, unit, clocks): an update
	// of evidence or notes costs no more than before.
	wasOpen := inc.stored != "" && inc.stored != StatusResolved
	mark := inc.markDoc()
	if inc.open() && (!wasOpen || mark != inc.storedMark) {
		if err := m.markOpen(ctx, inc.ID, mark); err != nil {
			return err
		}
	}
	// Its time index entry, likewise, goes in first and the one it
	// replaces away last, when it is new or last seen anew.
	moved := inc.stored == "" || !inc.LastSeen.Equal(inc.storedSeen)
	if moved {
		if err := m.putTimeEntry(ctx, inc); err != nil {
			return err
		}
	}
	// Its host index entry goes in once, before its first write.
	if inc.stored == "" {
		if err := m.putHostEntry(ctx, inc); err != nil {
			return err
		}
	}
	// And its watch list entry, when the time of its next notice moved:
	// a clock set, stopped or met, a notice raised.
	watch := m.watchKey(inc)
	if watch != "" && watch != inc.storedWatch {
		if err := m.putWatchEntry(ctx, watch, inc.Version); err != nil {
			return fmt.Errorf("incident %s: %w", inc.ID, err)
		}
	}
	v, err := m.st.PutEntity(ctx, store.KindIncident, inc.ID, b, inc.Version)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			m.dropLostChange(ctx, inc)
		}
		return fmt.Errorf("incident %s: %w", inc.ID, err)
	}
	if moved && inc.stored != "" {
		if err := m.st.DeleteEntity(ctx, kindTimeEntry, timeKey(inc.storedSeen, inc.ID)); err != nil {
			return fmt.Errorf("incident %s: time index: %w", inc.ID, err)
		}
	}
	if inc.storedWatch != "" && inc.storedWatch != watch {
		if err := m.dropWatchEntry(ctx, inc.storedWatch); err != nil {
			return fmt.Errorf("incident %s: %w", inc.ID, err)
		}
	}
	if inc.stored != "" {
		if old := changeKey(inc.storedWritten, inc.ID); old != changeKey(inc.Written, inc.ID) {
			if err := m.st.DeleteEntity(ctx, kindChangeEntry, old); err != nil {
				return fmt.Errorf("incident %s: change index: %w", inc.ID, err)
			}
		}
	}
	inc.storedSeen, inc.storedWatch, inc.storedWritten = inc.LastSeen, watch, inc.Written
	inc.Version, inc.stored, inc.storedMark = v, inc.Status, mark
	m.written(inc, b, v)
	if !inc.open() && inc.stored != "" && wasOpen {
		if err := m.st.DeleteEntity(ctx, kindOpenMark, inc.ID); err != nil {
			return fmt.Errorf("incident %s: open mark: %w", inc.ID, err)
		}
	}
	return nil
}

// Get returns one incident, unscoped.
func (m *Manager) Get(ctx context.Context, id string) (Incident, error) {
	return m.GetScoped(ctx, id, nil)
}

// GetScoped returns one incident if one of units may see it (nil: any).
func (m *Manager) GetScoped(ctx context.Context, id string, units []string) (Incident, error) {
	doc, ver, err := m.st.GetEntity(ctx, store.KindIncident, id)
	if err != nil {
		return Incident{}, fmt.Errorf("incident %s: %w", id, err)
	}
	inc, err := m.decode(id, doc, ver)
	if err != nil {
		return Incident{}, err
	}
	if !inc.VisibleTo(units) {
		return Incident{}, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	return inc, nil
}

// Show returns an incident with its evidence: alerts, the events behind
// them and the related network records.
func (m *Manager) Show(ctx context.Context, id string, units []string) (Detail, error) {
	inc, err := m.GetScoped(ctx, id, units)
	if err != nil {
		return Detail{}, err
	}
	evs, err := m.st.GetEvents(ctx, dedupe(slices.Concat(inc.AlertIDs, inc.EventIDs, inc.NetworkIDs)))
	if err != nil {
		return Detail{}, fmt.Errorf("incident %s evidence: %w", id, err)
	}
	return Detail{Incident: inc, Clocks: inc.Clocks(m.now()), Evidence: timeline(evs)}, nil
}

// timeline sorts evidence oldest first (by ID within one instant) and
// keeps each event once.
func timeline(evs []event.Event) []event.Event {
	slices.SortStableFunc(evs, func(a, b event.Event) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	evs = slices.CompactFunc(evs, func(a, b event.Event) bool { return a.ID == b.ID })
	if evs == nil {
		evs = []event.Event{}
	}
	return evs
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
