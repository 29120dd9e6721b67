package report

import (
	"fmt"
	"strings"
)

// block is one piece of a rendered report; both renderers draw the same
// blocks, so that the HTML and the PDF say the same.
type block struct {
	Kind  string // h1, h2, p, note, kv, table, bars, line, pagebreak
	Text  string
	Rows  [][]string
	Head  []string
	Width []float64 // table column shares, summing to 1
	Chart *chart
}

// chart is a vector chart: bars (counts) or a line (shares 0..1).
type chart struct {
	Title  string
	Labels []string
	Values []float64
	// Max is the value axis's top; Percent prints the axis in %.
	Max     float64
	Percent bool
}

// title is the report's title line.
func title(rep Report, t *tr) string {
	switch rep.Kind {
	case KindIncident:
		return t.T("title.incident." + rep.Incident.Form)
	case KindUnit:
		return t.T("title.unit")
	}
	return t.T("title.system")
}

// compose lays a report out as blocks.
func compose(rep Report, t *tr) []block {
	var bs []block
	add := func(b ...block) { bs = append(bs, b...) }
	add(block{Kind: "h1", Text: title(rep, t)})
	if rep.Kind == KindIncident {
		return append(bs, incidentBlocks(rep, t)...)
	}
	add(block{Kind: "kv", Rows: [][]string{
		{t.T("unit"), rep.Unit.Name + " (" + rep.Unit.ID + ")"},
		{t.T("period"), t.T("period.range", rep.From, rep.To.Add(-1))},
		{t.T("made"), t.dateTime(rep.Made)},
	}})
	if len(rep.Systems) == 0 {
		return append(bs, block{Kind: "note", Text: t.T("empty.systems")})
	}
	if rep.Kind == KindUnit {
		rows := make([][]string, 0, len(rep.Systems))
		for _, s := range rep.Systems {
			met, of := 0, 0
			for _, c := range s.Controls {
				if c.Status != NotAssessable {
					of++
				}
				if c.Status == Met {
					met++
				}
			}
			row := []string{s.ID, s.NameVI, fmt.Sprint(s.Level)}
			for _, l := range s.Layers {
				row = append(row, t.pct(l.Share))
			}
			rows = append(rows, append(row, fmt.Sprint(s.Incidents.Total), ratio(t, met, of)))
		}
		add(block{Kind: "h2", Text: t.T("unit.systems")},
			block{Kind: "table", Head: []string{t.T("col.id"), t.T("col.name"), t.T("col.level"), "L1", "L2", "L3", "L4", t.T("col.incidents"), t.T("col.controls")},
				Rows: rows, Width: []float64{.16, .24, .07, .07, .07, .07, .1, .08, .14}},
			block{Kind: "note", Text: t.T("unit.layers")})
	}
	for i, s := range rep.Systems {
		if i > 0 {
			add(block{Kind: "pagebreak"})
		}
		add(systemBlocks(s, t)...)
	}
	return bs
}

// ratio prints n of m, or "not assessable" when there is nothing to count:
// never 100% of nothing.
func ratio(t *tr, n, m int) string {
	if m == 0 {
		return t.T("na")
	}
	return fmt.Sprintf("%d/%d (%.0f%%)", n, m, 100*float64(n)/float64(m))
}

func systemBlocks(s SystemPart, t *tr) []block {
	name := s.NameVI
	if t.lang == LangEN && s.NameEN != "" {
		name = s.NameEN
	}
	dec := s.Decision
	if dec == "" {
		dec = t.T("decision.none")
	}
	bs := []block{
		{Kind: "h2", Text: t.T("sec.identity")},
		{Kind: "kv", Rows: [][]string{
			{t.T("system"), name + " (" + s.ID + ")"},
			{t.T("owner"), s.Owner.Name + " (" + s.Owner.ID + ")"},
			{t.T("level"), fmt.Sprint(s.Level)},
			{t.T("decision"), dec},
			{t.T("networks"), orDash(strings.Join(s.Networks, ", "))},
		}},
		{Kind: "h2", Text: t.T("sec.layers")},
	}
	var lrows [][]string
	for _, l := range s.Layers {
		req := t.T("optional")
		if l.Required {
			req = t.T("required")
		}
		lrows = append(lrows, []string{t.T(fmt.Sprintf("layer.%d", l.Layer)), orDash(l.Party), req, t.pct(l.Share)})
	}
	bs = append(bs, block{Kind: "table", Head: []string{t.T("col.layer"), t.T("col.party"), t.T("col.policy"), t.T("col.share")}, Rows: lrows, Width: []float64{.42, .28, .15, .15}})
	bs = append(bs, agentBlocks(s, t)...)
	bs = append(bs, detectionBlocks(s, t)...)
	bs = append(bs, incidentStatBlocks(s, t)...)
	bs = append(bs, block{Kind: "h2", Text: t.T("sec.changes")})
	if len(s.Changes) == 0 {
		bs = append(bs, block{Kind: "note", Text: t.T("empty.changes")})
	} else {
		var rows [][]string
		for _, c := range s.Changes {
			rows = append(rows, []string{t.dateTime(c.At), c.By, t.word("action", c.Action), orDash(strings.Join(c.Fields, ", "))})
		}
		bs = append(bs, block{Kind: "table", Head: []string{t.T("col.time"), t.T("col.by"), t.T("col.action"), t.T("col.fields")}, Rows: rows, Width: []float64{.25, .15, .15, .45}})
	}
	bs = append(bs, controlBlocks(s, t)...)
	bs = append(bs, block{Kind: "h2", Text: t.T("sec.gaps")})
	if len(s.Gaps) == 0 {
		bs = append(bs, block{Kind: "note", Text: t.T("empty.gaps")})
	}
	for _, g := range s.Gaps {
		bs = append(bs, block{Kind: "p", Text: "• " + t.G(g)})
	}
	bs = append(bs, block{Kind: "h2", Text: t.T("sec.evidence")})
	if len(s.Evidence) == 0 {
		bs = append(bs, block{Kind: "note", Text: t.T("empty.evidence")})
	} else {
		var rows [][]string
		for _, e := range s.Evidence {
			rows = append(rows, []string{t.word("kind", e.Kind), e.ID})
		}
		bs = append(bs, block{Kind: "table", Head: []string{t.T("col.kind"), t.T("col.id")}, Rows: rows, Width: []float64{.2, .8}})
	}
	return bs
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func agentBlocks(s SystemPart, t *tr) []block {
	a := s.Agents
	bs := []block{{Kind: "h2", Text: t.T("sec.agents")}}
	if a.Installed == 0 {
		bs = append(bs, block{Kind: "note", Text: t.T("empty.agents")})
	} else {
		var vers, buns []string
		for _, c := range a.Versions {
			vers = append(vers, fmt.Sprintf("%s: %d", orDash(c.Key), c.N))
		}
		for _, c := range a.Bundles {
			k := c.Key
			if k == "" {
				k = t.T("bundle.builtin")
			}
			buns = append(buns, fmt.Sprintf("%s: %d", k, c.N))
		}
		bs = append(bs, block{Kind: "kv", Rows: [][]string{
			{t.T("agents.installed"), fmt.Sprint(a.Installed)},
			{t.T("agents.reporting"), ratio(t, a.Reporting, a.Installed)},
			{t.T("agents.versions"), strings.Join(vers, "; ")},
			{t.T("agents.bundles"), strings.Join(buns, "; ")},
			{t.T("agents.lastscan"), t.dateTime(a.LastScan)},
			{t.T("agents.oldestscan"), t.dateTime(a.OldestScan)},
		}})
	}
	if len(s.Days) > 0 && a.Installed > 0 {
		c := &chart{Title: t.T("chart.coverage"), Max: 1, Percent: true}
		for _, d := range s.Days {
			c.Labels = append(c.Labels, d.Day.Format("02/01"))
			c.Values = append(c.Values, float64(d.Reporting)/float64(a.Installed))
		}
		bs = append(bs, block{Kind: "line", Chart: c})
	}
	return bs
}

func detectionBlocks(s SystemPart, t *tr) []block {
	d := s.Detection
	bundle := d.Bundle
	if bundle == "" {
		bundle = t.T("bundle.unknown")
	}
	bs := []block{{Kind: "h2", Text: t.T("sec.detection")}, {Kind: "kv", Rows: [][]string{
		{t.T("det.bundle"), bundle},
		{t.T("det.yara"), fmt.Sprint(d.Rules)},
		{t.T("det.sigma"), fmt.Sprint(d.Sigma)},
		{t.T("det.alerts"), fmt.Sprint(d.Alerts)},
	}}}
	if len(d.TopRules) > 0 {
		var rows [][]string
		for _, c := range d.TopRules {
			rows = append(rows, []string{c.Key, fmt.Sprint(c.N)})
		}
		bs = append(bs, block{Kind: "table", Head: []string{t.T("col.rule"), t.T("col.alerts")}, Rows: rows, Width: []float64{.8, .2}})
	}
	return bs
}

func incidentStatBlocks(s SystemPart, t *tr) []block {
	st := s.Incidents
	bs := []block{{Kind: "h2", Text: t.T("sec.incidents")}}
	if st.Total == 0 {
		return append(bs, block{Kind: "note", Text: t.T("empty.incidents")})
	}
	join := func(prefix string, cs []Count) string {
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s: %d", t.word(prefix, c.Key), c.N))
		}
		return orDash(strings.Join(out, "; "))
	}
	tal := func(x Tally) string {
		return t.T("tally", x.Met, x.Missed, x.Open, x.NotApplicable)
	}
	bs = append(bs, block{Kind: "kv", Rows: [][]string{
		{t.T("inc.total"), fmt.Sprint(st.Total)},
		{t.T("inc.severity"), join("sev", st.BySeverity)},
		{t.T("inc.status"), join("status", st.ByStatus)},
		{t.T("inc.tactic"), join("tactic", st.ByTactic)},
		{t.T("inc.ack"), tal(st.Ack) + " · " + t.T("median", st.MedianAck)},
		{t.T("inc.resolve"), tal(st.Resolve) + " · " + t.T("median", st.MedianResolve)},
		{t.T("inc.notify"), tal(st.Notify)},
		{t.T("inc.final"), tal(st.Final)},
	}})
	c := &chart{Title: t.T("chart.weeks")}
	for _, w := range st.Weeks {
		c.Labels = append(c.Labels, w.Key)
		c.Values = append(c.Values, float64(w.N))
		c.Max = max(c.Max, float64(w.N))
	}
	bs = append(bs, block{Kind: "bars", Chart: c}, block{Kind: "h2", Text: t.T("sec.notable")})
	var rows [][]string
	for _, r := range s.Notable {
		rows = append(rows, []string{r.ID, r.Title, t.word("sev", r.Severity), t.word("status", r.Status), t.hours(r.Resolve), t.word("within", r.Within)})
	}
	return append(bs, block{Kind: "table", Head: []string{t.T("col.id"), t.T("col.title"), t.T("col.severity"), t.T("col.status"), t.T("col.resolve"), t.T("col.within")},
		Rows: rows, Width: []float64{.2, .3, .12, .14, .12, .12}})
}

func controlBlocks(s SystemPart, t *tr) []block {
	bs := []block{{Kind: "h2", Text: t.T("sec.controls", s.Level)}}
	var rows [][]string
	for _, c := range s.Controls {
		rows = append(rows, []string{c.Control.ID, c.Control.Text.In(t.lang) + "\n" + strings.Join(c.Control.Refs, "; "), t.word("result", c.Status), t.G(c.Reason)})
	}
	return append(bs, block{Kind: "table", Head: []string{t.T("col.id"), t.T("col.control"), t.T("col.result"), t.T("col.reason")}, Rows: rows, Width: []float64{.09, .46, .13, .32}})
}

func incidentBlocks(rep Report, t *tr) []block {
	f := rep.Incident
	var systems []string
	for _, s := range f.Systems {
		systems = append(systems, t.T("inc.system", s.Name, s.ID, s.Level, orDash(s.Owner)))
	}
	rows := [][]string{
		{t.T("unit"), f.Unit.Name + " (" + f.Unit.ID + ")"},
		{t.T("inc.id"), f.ID},
		{t.T("col.title"), f.Title},
		{t.T("col.severity"), t.word("sev", f.Severity)},
		{t.T("col.status"), t.word("status", f.Status)},
		{t.T("inc.systems"), orDash(strings.Join(systems, "; "))},
		{t.T("inc.host"), f.Host + " " + strings.Join(f.HostIPs, ", ")},
		{t.T("inc.detected"), t.dateTime(f.Detected)},
		{t.T("inc.raised"), t.dateTime(f.Raised)},
		{t.T("inc.assignee"), orDash(f.Assignee)},
		{t.T("inc.notify"), clockText(t, f.Notify)},
	}
	if f.Form == FormFinal {
		rows = append(rows,
			[]string{t.T("inc.resolution"), t.word("resolution", f.Resolution)},
			[]string{t.T("inc.ended"), t.dateTime(f.Ended) + " — " + orDash(f.EndedBy)},
			[]string{t.T("inc.final"), clockText(t, f.Final)})
	}
	rows = append(rows, []string{t.T("made"), t.dateTime(rep.Made)})
	bs := []block{{Kind: "kv", Rows: rows}, {Kind: "h2", Text: t.T("sec.rules")}}
	var rr [][]string
	for _, r := range f.Rules {
		rr = append(rr, []string{r.Key, fmt.Sprint(r.N)})
	}
	bs = append(bs, block{Kind: "table", Head: []string{t.T("col.rule"), t.T("col.alerts")}, Rows: rr, Width: []float64{.8, .2}})
	var lr [][]string
	for _, a := range f.Layers {
		lr = append(lr, []string{t.T(fmt.Sprintf("layer.%d", a.Layer)), a.To, a.By})
	}
	bs = append(bs, block{Kind: "h2", Text: t.T("sec.handling")})
	if len(lr) == 0 {
		bs = append(bs, block{Kind: "note", Text: t.T("empty.layers")})
	} else {
		bs = append(bs, block{Kind: "table", Head: []string{t.T("col.layer"), t.T("col.party"), t.T("col.by")}, Rows: lr, Width: []float64{.45, .35, .2}})
	}
	if f.Form == FormFinal {
		var hr [][]string
		for _, c := range f.History {
			hr = append(hr, []string{t.dateTime(c.At), c.By, t.word("action", c.Action)})
		}
		for _, n := range f.Notes {
			hr = append(hr, []string{t.dateTime(n.At), n.Author, n.Text})
		}
		bs = append(bs, block{Kind: "h2", Text: t.T("sec.timeline")},
			block{Kind: "table", Head: []string{t.T("col.time"), t.T("col.by"), t.T("col.action")}, Rows: hr, Width: []float64{.3, .2, .5}})
	}
	bs = append(bs, block{Kind: "h2", Text: t.T("sec.evidence")})
	var er [][]string
	for _, e := range f.Evidence {
		er = append(er, []string{t.word("kind", e.Kind), e.ID})
	}
	if len(er) == 0 {
		return append(bs, block{Kind: "note", Text: t.T("empty.evidence")})
	}
	bs = append(bs, block{Kind: "table", Head: []string{t.T("col.kind"), t.T("col.id")}, Rows: er, Width: []float64{.2, .8}})
	if f.EvidenceMore > 0 {
		bs = append(bs, block{Kind: "note", Text: t.T("evidence.more", f.EvidenceMore)})
	}
	return bs
}

func clockText(t *tr, c incClock) string {
	s := t.word("clock", c.State) + " · " + t.T("clock.due", c.Due)
	if !c.Done.IsZero() {
		s += " · " + t.T("clock.done", c.Done, orDash(c.DoneBy))
	}
	return s
}
