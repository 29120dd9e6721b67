package incident

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Clock states. A clock is pending until its deadline is set (the final
// report's starts when the response ends), running until its report is
// sent or its deadline passes, overdue past the deadline with nothing sent,
// and met once the report is sent (late when after the deadline).
const (
	ClockPending = "pending"
	ClockRunning = "running"
	ClockMet     = "met"
	ClockOverdue = "overdue"
	// ClockNotApplicable: the incident was closed as a false positive,
	// benign or a duplicate, so there is nothing to report; it is never
	// overdue.
	ClockNotApplicable = "not_applicable"
)

// Clock is one TT 20/2017 reporting deadline of an incident.
type Clock struct {
	Due time.Time `json:"due,omitzero"`
	// Done is when the report was sent and DoneBy who recorded it.
	Done   time.Time `json:"done,omitzero"`
	DoneBy string    `json:"done_by,omitempty"`
	// DueSoonNotice and OverdueNotice are when the notices were raised, so
	// that each is raised once.
	DueSoonNotice time.Time `json:"due_soon_notice,omitzero"`
	OverdueNotice time.Time `json:"overdue_notice,omitzero"`
	// NotApplicable stops the clock: set when the incident is closed as
	// nothing to report, cleared when it is reopened.
	NotApplicable bool `json:"not_applicable,omitempty"`
}

// State is the clock's state at now.
func (c Clock) State(now time.Time) string {
	switch {
	case c.NotApplicable:
		return ClockNotApplicable
	case c.Due.IsZero():
		return ClockPending
	case !c.Done.IsZero():
		return ClockMet
	case now.After(c.Due):
		return ClockOverdue
	}
	return ClockRunning
}

// Late reports whether the report was sent after the deadline.
func (c Clock) Late() bool { return !c.NotApplicable && !c.Done.IsZero() && c.Done.After(c.Due) }

// ClockView is a clock as people and reports read it.
type ClockView struct {
	State  string    `json:"state"`
	Due    time.Time `json:"due,omitzero"`
	Done   time.Time `json:"done,omitzero"`
	DoneBy string    `json:"done_by,omitempty"`
	Late   bool      `json:"late,omitempty"`
	// Left is the time to the deadline (negative when overdue); zero when
	// the clock is pending or met.
	Left time.Duration `json:"left_ns,omitempty"`
}

// View reads the clock at now.
func (c Clock) View(now time.Time) ClockView {
	v := ClockView{State: c.State(now), Due: c.Due, Done: c.Done, DoneBy: c.DoneBy, Late: c.Late()}
	if v.State == ClockRunning || v.State == ClockOverdue {
		v.Left = c.Due.Sub(now)
	}
	return v
}

// Clocks are both deadlines of an incident at one moment.
type Clocks struct {
	Notification ClockView `json:"notification"`
	FinalReport  ClockView `json:"final_report"`
}

// Clocks reads the incident's deadlines at now.
func (inc Incident) Clocks(now time.Time) Clocks {
	return Clocks{Notification: inc.Notification.View(now), FinalReport: inc.FinalReport.View(now)}
}

// fill sets what incidents stored by earlier versions lack: deadlines,
// from the same rules that set them on new incidents; the new status for
// the old "open"; the rules' counts from the one rule they had.
func (m *Manager) fill(inc *Incident) {
	if inc.Status == StatusOpen || inc.Status == "" {
		inc.Status = StatusNew
	}
	if len(inc.Rules) == 0 && inc.Rule.ID != "" {
		inc.Rules = []Rule{{ID: inc.Rule.ID, Name: inc.Rule.Name, Alerts: inc.AlertCount}}
	}
	c := m.filledClocks(inc)
	inc.Notification, inc.FinalReport = c[0], c[1]
}

// filledClocks returns inc's notification and final-report clocks with
// the deadlines fill sets where they are missing.
func (m *Manager) filledClocks(inc *Incident) [2]Clock {
	n, f := inc.Notification, inc.FinalReport
	if n.Due.IsZero() && !inc.Created.IsZero() {
		n.Due = inc.Created.Add(m.cfg.NotifyWithin)
	}
	if f.Due.IsZero() && !inc.ResponseEnded.IsZero() {
		f.Due = inc.ResponseEnded.Add(m.cfg.FinalReportWithin)
	}
	return [2]Clock{n, f}
}

// Errors of the reporting steps.
var (
	// ErrResponseOpen: a final report before the response ended.
	ErrResponseOpen = errors.New("the response has not ended: resolve the incident first")
	// ErrFuture: a time later than the server's clock.
	ErrFuture = errors.New("time is in the future")
)

// futureSlack tolerates clocks of other machines a little ahead of ours.
const futureSlack = 5 * time.Minute

func (m *Manager) when(at time.Time) (time.Time, error) {
	now := m.now().UTC()
	if at.IsZero() {
		return now, nil
	}
	if at.After(now.Add(futureSlack)) {
		return time.Time{}, fmt.Errorf("%w: %s", ErrFuture, at.Format(time.RFC3339))
	}
	return at.UTC(), nil
}

// MarkNotified records that the notification (to the system owner and the
// national coordinator) was sent at at (now when zero), by whom. Marking
// again keeps the first record.
func (m *Manager) MarkNotified(ctx context.Context, id, by string, at time.Time) error {
	at, err := m.when(at)
	if err != nil {
		return fmt.Errorf("incident %s: notification: %w", id, err)
	}
	_, err = m.change(ctx, id, by, ActionNotified, map[string]any{"at": at}, func(inc *Incident) error {
		if inc.Notification.Done.IsZero() {
			inc.Notification.Done, inc.Notification.DoneBy = at, by
		}
		return nil
	})
	return err
}

// MarkFinalReport records that the final report was sent at at (now when
// zero), by whom. The response must have ended. Marking again keeps the
// first record.
func (m *Manager) MarkFinalReport(ctx context.Context, id, by string, at time.Time) error {
	at, err := m.when(at)
	if err != nil {
		return fmt.Errorf("incident %s: final report: %w", id, err)
	}
	_, err = m.change(ctx, id, by, ActionFinalReport, map[string]any{"at": at}, func(inc *Incident) error {
		if inc.ResponseEnded.IsZero() {
			return ErrResponseOpen
		}
		if inc.FinalReport.Done.IsZero() {
			inc.FinalReport.Done, inc.FinalReport.DoneBy = at, by
		}
		return nil
	})
	return err
}
