package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lachan/internal/wire"
	"lachan/server/api"
	"lachan/server/incident"
	"lachan/server/system"
)

type systemList struct {
	Systems []system.System `json:"systems"`
}

func systemsCmd() *cobra.Command {
	c := listCmd("systems", "List information systems with their level and four layers", api.PathSystems,
		"ID\tLEVEL\tOWNER\tNAME\tL1 ON-SITE\tL2 SOC\tL3 ASSESSOR\tL4 UPSTREAM",
		func(out systemList) [][]string {
			rows := make([][]string, 0, len(out.Systems))
			for _, s := range out.Systems {
				l := s.Layers
				rows = append(rows, []string{s.ID, fmt.Sprint(s.Level), s.Owner, s.Name.String(),
					dash(l.OnSite.Unit), dash(l.Monitoring.SOC), dash(l.Assessor.Organisation), dash(l.Upstream.Link)})
			}
			return rows
		})
	c.AddCommand(systemsApplyCmd(), systemShowCmd(), systemHistoryCmd(), coverageCmd(), policiesCmd(), systemDeleteCmd())
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func systemsApplyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "apply FILE",
		Short: "Create or update systems from a YAML file ({systems: [...]}, see deploy/examples/systems.yml)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := system.LoadFile(args[0])
			if err != nil {
				return err
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			changed := 0
			for _, s := range list {
				var out api.SystemChange
				if err := cl.Put(cmd.Context(), api.PathSystems+"/"+url.PathEscape(s.ID), s, &out); err != nil {
					return fmt.Errorf("system %s: %w", s.ID, err)
				}
				if out.Changed {
					changed++
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d system(s) applied, %d changed\n", len(list), changed)
			return nil
		},
	}
}

func systemShowCmd() *cobra.Command {
	c := &cobra.Command{
		Use: "show ID", Short: "Show one system (JSON)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var s system.System
			if err := cl.Get(cmd.Context(), api.PathSystems+"/"+url.PathEscape(args[0]), nil, &s); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), s)
		},
	}
	return c
}

type historyList struct {
	History []system.Audit `json:"history"`
}

func systemHistoryCmd() *cobra.Command {
	c := &cobra.Command{
		Use: "history ID", Short: "Every change to a system: who, when, what", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var out historyList
			if err := cl.Get(cmd.Context(), api.PathSystems+"/"+url.PathEscape(args[0])+"/history", nil, &out); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, 0, len(out.History))
			for _, a := range out.History {
				rows = append(rows, []string{a.At.Local().Format(time.DateTime), a.By, a.Action, strings.Join(a.Changes, ", ")})
			}
			return table(cmd.OutOrStdout(), "TIME\tBY\tACTION\tCHANGED FIELDS", rows)
		},
	}
	addJSONFlag(c)
	return c
}

func policiesCmd() *cobra.Command {
	return &cobra.Command{
		Use: "policies", Short: "The policies per security level the server applies (JSON)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var out system.Policies
			if err := cl.Get(cmd.Context(), api.PathPolicies, nil, &out); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), out)
		},
	}
}

func coverageCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "coverage",
		Short: "Each system's four layers, its score (working / required layers) and its gaps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var rep system.Report
			if err := cl.Get(cmd.Context(), api.PathCoverage, nil, &rep); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			return printCoverage(cmd.OutOrStdout(), rep)
		},
	}
	addJSONFlag(c)
	return c
}

func printCoverage(w io.Writer, rep system.Report) error {
	fmt.Fprintf(w, "Độ phủ mô hình 4 lớp / Four-layer coverage — %s\n", rep.At.Local().Format(time.DateTime))
	if len(rep.Systems) == 0 {
		// Never 100% of nothing: with no system there is no coverage to speak of.
		fmt.Fprintln(w, "Chưa đăng ký hệ thống thông tin nào / No information system registered (lachan systems apply FILE)")
		return nil
	}
	fmt.Fprintf(w, "Tổng / Overall: %d/%d lớp bắt buộc hoạt động / required layers working (%s)\n\n", rep.Working, rep.Required, percentOf(rep.Working, rep.Required))
	for _, s := range rep.Systems {
		fmt.Fprintf(w, "%s — %s (cấp độ / level %d, đơn vị / owner %s): %d/%d (%s)\n", s.System, s.Name, s.Level, s.Owner, s.Working, s.Required, percentOf(s.Working, s.Required))
		rows := make([][]string, 0, len(s.Layers))
		for _, l := range s.Layers {
			req := "optional"
			if l.Required {
				req = "required"
			}
			rows = append(rows, []string{fmt.Sprintf("  %d %s", l.Layer, l.Name), req, l.State, dash(l.Party), l.Evidence})
		}
		if err := table(w, "  LAYER\tPOLICY\tSTATE\tPARTY\tEVIDENCE", rows); err != nil {
			return err
		}
		for _, g := range s.Gaps {
			fmt.Fprintf(w, "  ! %s\n", g)
		}
		fmt.Fprintln(w)
	}
	rows := make([][]string, 0, len(rep.Units))
	for _, u := range rep.Units {
		cells := []string{u.Unit, fmt.Sprint(u.Systems)}
		for _, l := range u.ByLayer {
			cells = append(cells, fmt.Sprintf("%d/%d", l.Working, l.Required))
		}
		rows = append(rows, append(cells, fmt.Sprintf("%d/%d (%s)", u.Working, u.Required, percentOf(u.Working, u.Required))))
	}
	fmt.Fprintln(w, "Theo đơn vị / By unit:")
	return table(w, "UNIT\tSYSTEMS\tL1\tL2\tL3\tL4\tSCORE", rows)
}

// percentOf prints n of m as a percentage, and a dash when nothing is
// required: the coverage of nothing is not 100%.
func percentOf(n, m int) string {
	if m == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(m))
}

// incidentActions are the case-handling, layer and reporting steps of
// `lachan incident`. Every ID may be a unique prefix of 8 characters or
// more.
func incidentActions() []*cobra.Command {
	assign := &cobra.Command{
		Use:   "assign ID --to WHO [--layer N]",
		Short: "Give the case to a user, or with --layer an incident's handling at one layer (1–4) to a unit, team, assessor or link",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			layer, _ := cmd.Flags().GetInt("layer")
			to, _ := cmd.Flags().GetString("to")
			return incidentPost(cmd, args[0], "assign", api.AssignRequest{Layer: layer, To: to})
		},
	}
	assign.Flags().Int("layer", 0, "layer: 1 on-site, 2 SOC, 3 assessor, 4 upstream; without it --to names an existing user")
	assign.Flags().String("to", "", "who takes it")
	_ = assign.MarkFlagRequired("to")

	resolve := &cobra.Command{
		Use:   "resolve ID [--as RESOLUTION] [--note TEXT] [--at TIME]",
		Short: "End the response; a true positive starts the 5-day final-report clock, a false positive or benign one stops both clocks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			at, err := atFlag(cmd)
			if err != nil {
				return err
			}
			as, _ := cmd.Flags().GetString("as")
			note, _ := cmd.Flags().GetString("note")
			return incidentPost(cmd, args[0], "resolve", api.StepRequest{At: at, Resolution: as, Note: note})
		},
	}
	resolve.Flags().String("as", incident.ResolutionTruePositive, "resolution: true_positive, false_positive or benign (a duplicate is merged: incident merge)")
	resolve.Flags().String("note", "", "a note to add, e.g. why")
	resolve.Flags().String("at", "", "when the response ended (RFC 3339); now when not given")

	note := &cobra.Command{
		Use: "note ID TEXT", Short: "Add a note to an incident", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return incidentPost(cmd, args[0], "note", api.StepRequest{Text: args[1]})
		},
	}
	merge := &cobra.Command{
		Use: "merge ID INTO_ID", Short: "Move an incident's alerts and evidence into another and resolve it as its duplicate", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return incidentPost(cmd, args[0], "merge", api.StepRequest{Target: args[1]})
		},
	}
	link := &cobra.Command{
		Use: "link ID OTHER_ID", Short: "Link two incidents (both ways)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return incidentPost(cmd, args[0], "link", api.StepRequest{Target: args[1]})
		},
	}
	out := []*cobra.Command{assign, resolve, note, merge, link}
	for _, st := range []struct{ use, step, short string }{
		{"ack ID", "ack", "Acknowledge a new incident"},
		{"start ID", "start", "Mark an incident as in progress"},
		{"reopen ID", "reopen", "Reopen a resolved incident: its resolution is cleared and its clocks run again"},
	} {
		out = append(out, &cobra.Command{
			Use: st.use, Short: st.short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return incidentPost(cmd, args[0], st.step, api.StepRequest{})
			},
		})
	}
	for _, st := range []struct{ use, step, short string }{
		{"notified ID", "notified", "Record that the TT 20/2017 notification was sent"},
		{"final-report ID", "final-report", "Record that the final report was sent"},
	} {
		c := &cobra.Command{
			Use: st.use + " [--at TIME]", Short: st.short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				at, err := atFlag(cmd)
				if err != nil {
					return err
				}
				return incidentPost(cmd, args[0], st.step, api.StepRequest{At: at})
			},
		}
		c.Flags().String("at", "", "when it happened (RFC 3339); now when not given")
		out = append(out, c)
	}
	return out
}

func atFlag(cmd *cobra.Command) (time.Time, error) {
	s, _ := cmd.Flags().GetString("at")
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("--at %q: want an RFC 3339 time such as 2026-05-01T09:30:00+07:00", s)
	}
	return t, nil
}

func incidentPost(cmd *cobra.Command, id, step string, body any) error {
	cl, err := newClient(cmd)
	if err != nil {
		return err
	}
	var d incident.Detail
	if err := cl.Post(cmd.Context(), wire.PathIncidents+"/"+url.PathEscape(id)+"/"+step, body, &d); err != nil {
		return err
	}
	return printIncident(cmd.OutOrStdout(), d)
}

// printLayers adds the four-layer part of `lachan incident show`: systems,
// assignments and the TT 20/2017 clocks.
func printLayers(w io.Writer, d incident.Detail) {
	if len(d.Systems) > 0 || len(d.Units) > 0 {
		fmt.Fprintf(w, "  Hệ thống / Systems: %s   Đơn vị liên quan / Units: %s\n", dash(strings.Join(d.Systems, ", ")), dash(strings.Join(d.Units, ", ")))
	}
	for _, a := range d.Assignments {
		fmt.Fprintf(w, "  Lớp / Layer %d: %s (%s, %s)\n", a.Layer, a.To, a.By, a.At.Local().Format(time.DateTime))
	}
	if d.Assignee != "" {
		fmt.Fprintf(w, "  Người xử lý / Assignee: %s\n", visible(d.Assignee))
	}
	for _, c := range []struct {
		name string
		v    incident.ClockView
	}{{"Thông báo / Notification", d.Clocks.Notification}, {"Báo cáo kết thúc / Final report", d.Clocks.FinalReport}} {
		line := "  " + c.name + ": " + c.v.State
		if !c.v.Due.IsZero() {
			line += ", hạn / due " + c.v.Due.Local().Format(time.DateTime)
		}
		if !c.v.Done.IsZero() {
			line += fmt.Sprintf(", gửi / sent %s by %s", c.v.Done.Local().Format(time.DateTime), c.v.DoneBy)
		}
		if c.v.Late {
			line += " (trễ hạn / late)"
		}
		fmt.Fprintln(w, line)
	}
}

// systemDeleteCmd removes a system from the registry (admin; audited).
func systemDeleteCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "delete ID",
		Short: "Remove an information system from the registry (recorded in its history)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			q := url.Values{}
			if v, _ := cmd.Flags().GetUint64("version"); v > 0 {
				q.Set("version", fmt.Sprint(v))
			}
			if err := cl.Delete(cmd.Context(), api.PathSystems+"/"+url.PathEscape(args[0]), q, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "system %s removed\n", args[0])
			return nil
		},
	}
	c.Flags().Uint64("version", 0, "remove only if the system is still at this version (from systems show)")
	return c
}
