package system

import (
	"context"
	"fmt"
	"math"
	"time"

	"lachan/server/fleet"
	"lachan/server/store"
)

func days(d time.Duration) int { return int(math.Round(d.Hours() / 24)) }

// onSite is layer 1: a unit assigned, and the system's agents reporting.
func (c *Coverage) onSite(s System, agents []fleet.Agent, now time.Time) LayerStatus {
	l := LayerStatus{Party: s.Layers.OnSite.Unit}
	if l.Party == "" {
		l.Gaps = append(l.Gaps, "Chưa phân công lực lượng tại chỗ / No on-site force assigned")
	}
	for _, a := range agents {
		if !s.HasAgent(a.ID, a.Host.Name, a.Unit, a.Host.IPs) {
			continue
		}
		l.AgentsTotal++
		if a.Online(now, c.cfg.AgentWindow) {
			l.AgentsReporting++
		}
	}
	win := c.cfg.AgentWindow.String()
	l.Evidence = fmt.Sprintf("%d/%d agents reporting within %s", l.AgentsReporting, l.AgentsTotal, win)
	frac := 0.0
	if l.AgentsTotal > 0 {
		frac = float64(l.AgentsReporting) / float64(l.AgentsTotal)
	}
	switch {
	case l.AgentsTotal == 0:
		l.Gaps = append(l.Gaps, "Hệ thống chưa có máy nào cài tác tử / No agents belong to the system")
	case frac < c.cfg.AgentMinFraction:
		l.Gaps = append(l.Gaps, fmt.Sprintf("Chỉ %d/%d tác tử báo cáo trong %s (cần %.0f%%) / Only %d of %d agents reported within %s (%.0f%% needed)",
			l.AgentsReporting, l.AgentsTotal, win, c.cfg.AgentMinFraction*100, l.AgentsReporting, l.AgentsTotal, win, c.cfg.AgentMinFraction*100))
	}
	l.Working = l.Party != "" && len(l.Gaps) == 0
	return l
}

// monitoring is layer 2: a SOC assigned, and the sensor seeing the
// system's ranges (a network record from or to them within the window).
func (c *Coverage) monitoring(ctx context.Context, s System, now time.Time) (LayerStatus, error) {
	l := LayerStatus{Party: s.Layers.Monitoring.SOC}
	if l.Party == "" {
		l.Gaps = append(l.Gaps, "Chưa có đội giám sát (SOC) / No monitoring team (SOC) assigned")
	}
	win := c.cfg.SensorWindow.String()
	if len(s.Assets.Networks) == 0 {
		l.Gaps = append(l.Gaps, "Chưa khai báo dải mạng nên không kiểm chứng được cảm biến / No network ranges registered, so the sensor cannot be checked")
		return l, nil
	}
	last, err := c.lastNetwork(ctx, s, now)
	if err != nil {
		return l, err
	}
	l.LastNetwork = last
	if last.IsZero() {
		l.Evidence = "no network records from the system's ranges within " + win
		l.Gaps = append(l.Gaps, fmt.Sprintf("Cảm biến không thấy lưu lượng của dải mạng hệ thống trong %s / The sensor saw no traffic of the system's ranges within %s", win, win))
	} else {
		l.Evidence = fmt.Sprintf("last network record from the system's ranges %s before", now.Sub(last).Round(time.Second))
	}
	l.Working = l.Party != "" && len(l.Gaps) == 0
	return l, nil
}

// lastNetwork returns the time of the newest network record whose source
// or destination lies in the system's ranges within the sensor window, or
// zero. One newest-first page of one record bounds the work.
func (c *Coverage) lastNetwork(ctx context.Context, s System, now time.Time) (time.Time, error) {
	var ranges []*store.Expr
	for _, p := range s.Prefixes() {
		for _, f := range []string{"source.ip", "destination.ip"} {
			ranges = append(ranges, &store.Expr{Op: store.OpCIDR, Field: f, Value: p.String()})
		}
	}
	q := store.Query{
		From:  now.Add(-c.cfg.SensorWindow),
		To:    now.Add(time.Nanosecond),
		Limit: 1,
		Filter: &store.Expr{Op: store.OpAnd, Args: []*store.Expr{
			{Op: store.OpWildcard, Field: "event.dataset", Value: "network.*"},
			{Op: store.OpOr, Args: ranges},
		}},
	}
	page, err := c.st.SearchEvents(ctx, q)
	if err != nil {
		return time.Time{}, fmt.Errorf("system %s: network records: %w", s.ID, err)
	}
	if len(page.Events) == 0 {
		return time.Time{}, nil
	}
	return page.Events[0].Timestamp, nil
}

// assessor is layer 3: an assessor assigned and the last assessment within
// the level's interval.
func (c *Coverage) assessor(s System, pol Policy, now time.Time) LayerStatus {
	a := s.Layers.Assessor
	l := LayerStatus{Party: a.Organisation, LastAssessment: a.LastAssessment}
	if l.Party == "" {
		l.Gaps = append(l.Gaps, "Chưa có tổ chức đánh giá độc lập / No independent assessor assigned")
	}
	interval := days(time.Duration(pol.AssessmentInterval))
	switch {
	case a.LastAssessment.IsZero():
		l.Gaps = append(l.Gaps, "Chưa ghi nhận lần đánh giá nào / No assessment recorded")
	default:
		age := days(now.Sub(a.LastAssessment))
		l.Evidence = fmt.Sprintf("last assessment %s, %d days ago (interval %d days at level %d)", a.LastAssessment.Format(time.DateOnly), age, interval, s.Level)
		if now.Sub(a.LastAssessment) > time.Duration(pol.AssessmentInterval) {
			l.Gaps = append(l.Gaps, fmt.Sprintf("Lần đánh giá cuối cách đây %d ngày, quá chu kỳ %d ngày / Last assessment %d days ago, past the %d-day interval",
				age, interval, age, interval))
		}
	}
	l.Working = l.Party != "" && len(l.Gaps) == 0
	return l
}

// upstreamLayer is layer 4: a link named and reported healthy.
func (c *Coverage) upstreamLayer(s System) LayerStatus {
	l := LayerStatus{Party: s.Layers.Upstream.Link}
	if l.Party == "" {
		l.Gaps = append(l.Gaps, "Chưa kết nối với hệ thống giám sát quốc gia / No upstream link to the national monitoring system")
		return l
	}
	ok, detail := c.upstream.Healthy(l.Party)
	l.Evidence = detail
	switch {
	case ok:
		l.Working = true
	case detail == UpstreamUnknown || detail == "":
		l.State = StateUnknown
		l.Gaps = append(l.Gaps, fmt.Sprintf("Không rõ tình trạng kết nối %q / The state of link %q is unknown", l.Party, l.Party))
	default:
		l.Gaps = append(l.Gaps, fmt.Sprintf("Kết nối %q không hoạt động: %s / Link %q is not working: %s", l.Party, detail, l.Party, detail))
	}
	return l
}
