package incident

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"lachan/internal/event"
)

// DatasetNotice is the dataset of deadline notices.
const DatasetNotice = "lachan.notice"

// Notice kinds and the clocks they are about.
const (
	NoticeDueSoon = "due_soon"
	NoticeOverdue = "overdue"

	ClockNotification = "notification"
	ClockFinalReport  = "final_report"
)

// vietnam is the zone people read deadlines in (UTC+7, no daylight saving).
var vietnam = time.FixedZone("ICT", 7*3600)

// Watcher raises a notice before each deadline of an open clock and when
// it passes, once each: an event of DatasetNotice in the store and a log
// line.
type Watcher struct {
	m   *Manager
	log *slog.Logger
}

// NewWatcher returns a watcher over m's incidents, using m's clock and
// settings.
func NewWatcher(m *Manager, log *slog.Logger) *Watcher {
	return &Watcher{m: m, log: log.With("component", "deadlines")}
}

// Run scans every Config.DeadlineScan until ctx ends. A failed scan is
// logged and tried again at the next tick.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.m.cfg.DeadlineScan)
	defer t.Stop()
	for {
		if _, err := w.Scan(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("deadline scan failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// due is one notice a scan found to raise.
type due struct {
	inc   Incident
	clock string
	kind  string
	at    time.Time
}

// Scan raises the notices due now, at most Config.DeadlineScanMax (the
// rest wait for the next scan), and returns how many it raised. Raising is
// idempotent: the notice's ID derives from the incident, clock, kind and
// deadline, and the incident records that it was raised.
//
// It reads the incidents the watch list (watchlist.go) names as owing a
// notice by now, the earliest first, not every stored incident; the list
// is built at the first start over a store from before it (EnsureIndex),
// and the scan after that build logs it.
func (w *Watcher) Scan(ctx context.Context) (int, error) {
	if err := w.m.EnsureIndex(ctx); err != nil {
		return 0, err
	}
	if b := w.m.watchBuilt.Swap(nil); b != nil {
		w.logBuild(b)
	}
	now := w.m.now().UTC()
	var todo []due
	ok, err := w.m.walkWatch(ctx, now, func(inc *Incident) bool {
		todo = w.owed(todo, *inc, now)
		return len(todo) < w.m.cfg.DeadlineScanMax
	})
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("deadline scan: the watch list is not built")
	}
	todo = todo[:min(len(todo), w.m.cfg.DeadlineScanMax)]
	for i, d := range todo {
		if err := w.raise(ctx, d, now); err != nil {
			return i, err
		}
	}
	return len(todo), nil
}

// owed appends the notices inc's clocks owe at now.
func (w *Watcher) owed(todo []due, inc Incident, now time.Time) []due {
	for _, c := range []struct {
		name string
		clk  Clock
	}{{ClockNotification, inc.Notification}, {ClockFinalReport, inc.FinalReport}} {
		switch c.clk.State(now) {
		case ClockRunning:
			if c.clk.DueSoonNotice.IsZero() && !now.Before(c.clk.Due.Add(-w.m.cfg.NoticeLead)) {
				todo = append(todo, due{inc, c.name, NoticeDueSoon, c.clk.Due})
			}
		case ClockOverdue:
			if c.clk.OverdueNotice.IsZero() {
				todo = append(todo, due{inc, c.name, NoticeOverdue, c.clk.Due})
			}
		}
	}
	return todo
}

func (w *Watcher) logBuild(b *WatchBuild) {
	msg := "deadline watch list built from the stored incidents (first start over a store from before it)"
	if b.Settings {
		msg = "deadline watch list built again: the notice lead or a deadline changed"
	}
	w.log.Info(msg, "incidents", b.Incidents, "watched", b.Watched)
}

func (w *Watcher) raise(ctx context.Context, d due, now time.Time) error {
	ev := NoticeEvent(d.inc, d.clock, d.kind, d.at, now)
	if _, err := w.m.st.PutEvents(ctx, []event.Event{ev}); err != nil {
		return fmt.Errorf("incident %s: store %s notice: %w", d.inc.ID, d.kind, err)
	}
	_, err := w.m.update(ctx, d.inc.ID, func(inc *Incident) error {
		clk := &inc.Notification
		if d.clock == ClockFinalReport {
			clk = &inc.FinalReport
		}
		if d.kind == NoticeDueSoon && clk.DueSoonNotice.IsZero() {
			clk.DueSoonNotice = now
		}
		if d.kind == NoticeOverdue && clk.OverdueNotice.IsZero() {
			clk.OverdueNotice = now
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.log.Warn(ev.String("message"), "incident", d.inc.ID, "clock", d.clock, "kind", d.kind,
		"due", d.at, "unit", d.inc.Unit, "systems", d.inc.Systems)
	return nil
}

// NoticeEvent builds the notice that a clock of inc is due soon or
// overdue, raised at now.
func NoticeEvent(inc Incident, clock, kind string, dueAt, now time.Time) event.Event {
	ev := event.New(DatasetNotice, now)
	ev.ID = event.DeriveID("notice", inc.ID, clock, kind, dueAt.UTC().Format(time.RFC3339Nano))
	ev.Set("event.kind", "alert")
	ev.Set("message", noticeText(inc, clock, kind, dueAt))
	ev.Set("lachan.incident.id", inc.ID)
	ev.Set("lachan.notice.clock", clock)
	ev.Set("lachan.notice.kind", kind)
	ev.Set("lachan.notice.due", dueAt.UTC().Format(time.RFC3339))
	if inc.Unit != "" {
		ev.Set("lachan.unit", inc.Unit)
	}
	if len(inc.Systems) > 0 {
		ev.Set("lachan.system", inc.Systems)
	}
	return ev
}

func noticeText(inc Incident, clock, kind string, dueAt time.Time) string {
	at := dueAt.In(vietnam).Format("02/01/2006 15:04 (UTC+7)")
	what := map[string][2]string{
		ClockNotification: {"thông báo sự cố", "incident notification"},
		ClockFinalReport:  {"báo cáo kết thúc ứng cứu sự cố", "final incident report"},
	}[clock]
	if kind == NoticeOverdue {
		return fmt.Sprintf("Quá hạn %s (hạn %s), sự cố %s / %s overdue (due %s), incident %s",
			what[0], at, inc.ID, what[1], at, inc.ID)
	}
	return fmt.Sprintf("Sắp đến hạn %s lúc %s, sự cố %s / %s due at %s, incident %s",
		what[0], at, inc.ID, what[1], at, inc.ID)
}
