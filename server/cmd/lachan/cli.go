package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/api"
	"lachan/server/client"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/unit"
)

func newClient(cmd *cobra.Command) (*client.Client, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	cc := cfg.client()
	return client.New(cc.Server, cc.CAFile, cc.TokenFile, cc.Token)
}

// newSensorClient is newClient with the local sensor token by default.
func newSensorClient(cmd *cobra.Command) (*client.Client, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	cc := cfg.sensorClient()
	return client.New(cc.Server, cc.CAFile, cc.TokenFile, cc.Token)
}

func addJSONFlag(c *cobra.Command) { c.Flags().Bool("json", false, "print JSON for machines") }

func wantJSON(cmd *cobra.Command) bool { j, _ := cmd.Flags().GetBool("json"); return j }

// printJSON writes v as one line of JSON; control and bidi characters in
// its strings are escaped (see jsonSafe).
func printJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return jsonSafe(w, b.Bytes())
}

// table prints rows under header, aligned; cells are made visible, as
// they mostly come from agents.
func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(visibleAll(r), "\t"))
	}
	return tw.Flush()
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

// listCmd fetches path and prints the answer as JSON for machines or as a
// table for people.
func listCmd[T any](use, short, path, header string, rows func(T) [][]string) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var out T
			if err := cl.Get(cmd.Context(), path, nil, &out); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), out)
			}
			return table(cmd.OutOrStdout(), header, rows(out))
		},
	}
	addJSONFlag(c)
	return c
}

type agentList struct {
	Agents []fleet.Agent `json:"agents"`
}

func agentsCmd() *cobra.Command {
	return listCmd("agents", "List enrolled agents", wire.PathAgents, agentsHeader, agentRows)
}

const agentsHeader = "ID\tUNIT\tHOST\tADDRESSES\tOS\tOSQUERY\tSPOOL\tTELEMETRY\tSYSMON\tLAST SEEN"

func agentRows(out agentList) [][]string {
	rows := make([][]string, 0, len(out.Agents))
	for _, a := range out.Agents {
		rows = append(rows, []string{a.ID, a.Unit, a.Host.Name, strings.Join(a.Host.IPs, ","), a.Host.OS, a.Status.Osquery, fmt.Sprint(a.Status.SpoolDepth), telemetryCell(a), sysmonCell(a), ago(a.LastSeen)})
	}
	return rows
}

func eventQueryFlags(c *cobra.Command) {
	c.Flags().StringSlice("dataset", nil, "only these datasets (yara.finding, osquery.result, network.flow, network.dns, lachan.alert)")
	c.Flags().StringSlice("host", nil, "only these host IDs")
	c.Flags().StringSlice("term", nil, "field:value filters, e.g. --term file.hash.sha256:abc…")
	c.Flags().String("query", "", `hunting query, e.g. --query 'host.name:pc-01 and process.name:powershell.exe and not user.name:admin*'`)
	c.Flags().String("since", "", "only newer than this (RFC 3339, or a duration such as 24h)")
	c.Flags().Int("limit", 50, "at most this many")
	addJSONFlag(c)
}

func searchEvents(cmd *cobra.Command, path string) error {
	cl, err := newClient(cmd)
	if err != nil {
		return err
	}
	q := url.Values{}
	for _, f := range []string{"dataset", "host", "term"} {
		vals, _ := cmd.Flags().GetStringSlice(f)
		q[f] = vals
	}
	if s, _ := cmd.Flags().GetString("since"); s != "" {
		q.Set("from", s)
	}
	if s, _ := cmd.Flags().GetString("query"); s != "" {
		q.Set("q", s)
	}
	limit, _ := cmd.Flags().GetInt("limit")
	q.Set("limit", fmt.Sprint(limit))
	var page api.EventsPage
	if err := cl.Get(cmd.Context(), path, q, &page); err != nil {
		return err
	}
	if wantJSON(cmd) {
		return printJSON(cmd.OutOrStdout(), page)
	}
	return table(cmd.OutOrStdout(), eventsHeader, eventRows(page))
}

const eventsHeader = "TIME\tDATASET\tHOST\tSUMMARY"

func eventRows(page api.EventsPage) [][]string {
	rows := make([][]string, 0, len(page.Events))
	for _, ev := range page.Events {
		rows = append(rows, []string{ev.Timestamp.Local().Format(time.DateTime), ev.Dataset, ev.String("host.name"), summary(ev)})
	}
	return rows
}

// summary is a one-line human description of an event.
func summary(ev event.Event) string {
	switch ev.Dataset {
	case event.DatasetYARA:
		return fmt.Sprintf("YARA %s matched %s", ev.String("yara.rule"), ev.String("file.path"))
	case event.DatasetAlert:
		return fmt.Sprintf("[%s] %s", ev.String("rule.level"), ev.String("rule.name"))
	case event.DatasetFlow:
		return fmt.Sprintf("%s %s → %s  %s/%s packets, %s/%s bytes", ev.String("network.transport"), endpoint(ev, "source"), endpoint(ev, "destination"),
			ev.String("source.packets"), ev.String("destination.packets"), ev.String("source.bytes"), ev.String("destination.bytes"))
	case event.DatasetDNS:
		return fmt.Sprintf("DNS %s %s → %s %s", ev.String("dns.question.type"), ev.String("dns.question.name"), ev.String("dns.response_code"), strings.Join(ev.Strings("dns.resolved_ip"), ","))
	case event.DatasetOsquery:
		return "osquery " + ev.String("osquery.name")
	case "linux.process":
		return fmt.Sprintf("exec %s by %s (pid %s, parent %s)", ev.String("process.command_line"), ev.String("user.name"), ev.String("process.pid"), ev.String("process.parent.executable"))
	case "linux.network":
		return fmt.Sprintf("tcp %s %s → %s by %s", ev.String("event.action"), endpoint(ev, "source"), endpoint(ev, "destination"), ev.String("process.executable"))
	case "linux.file":
		return fmt.Sprintf("file %s %s", ev.String("event.action"), ev.String("file.path"))
	}
	return ev.ID
}

func endpoint(ev event.Event, side string) string {
	ip, port := ev.String(side+".ip"), ev.String(side+".port")
	if port == "" {
		return ip
	}
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + port
	}
	return ip + ":" + port
}

func eventsCmd() *cobra.Command {
	c := &cobra.Command{Use: "events", Short: "Search stored events", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return searchEvents(cmd, wire.PathEvents) }}
	eventQueryFlags(c)
	return c
}

func alertsCmd() *cobra.Command {
	c := &cobra.Command{Use: "alerts", Short: "List alerts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return searchEvents(cmd, wire.PathAlerts) }}
	eventQueryFlags(c)
	return c
}

type incidentList struct {
	Incidents []incident.Incident `json:"incidents"`
}

const incidentsHeader = "ID\tSEVERITY\tSTATUS\tUNIT\tASSIGNEE\tTITLE\tALERTS\tEVIDENCE\tLAST SEEN"

func incidentsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "incidents",
		Short: "List incidents, newest first, filtered on the server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			q := url.Values{}
			for _, f := range []string{"status", "severity"} {
				q[f], _ = cmd.Flags().GetStringSlice(f)
			}
			for flag, param := range map[string]string{"unit": "unit", "assignee": "assignee", "since": "since", "query": "q"} {
				if v, _ := cmd.Flags().GetString(flag); v != "" {
					q.Set(param, v)
				}
			}
			var out incidentList
			if err := cl.Get(cmd.Context(), wire.PathIncidents, q, &out); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, 0, len(out.Incidents))
			for _, i := range out.Incidents {
				status := i.Status
				if i.Resolution != "" {
					status += " (" + i.Resolution + ")"
				}
				rows = append(rows, []string{i.ID, i.Severity, status, i.Unit, dash(i.Assignee), i.Title, fmt.Sprint(i.AlertCount),
					fmt.Sprint(len(i.EventIDs) + len(i.NetworkIDs)), ago(i.LastSeen)})
			}
			return table(cmd.OutOrStdout(), incidentsHeader, rows)
		},
	}
	c.Flags().StringSlice("status", nil, "only these statuses (new, acknowledged, in_progress, resolved)")
	c.Flags().StringSlice("severity", nil, "only these severities (informational, low, medium, high, critical)")
	c.Flags().String("unit", "", "only incidents this unit may see (within your own scope)")
	c.Flags().String("assignee", "", "only incidents assigned to this name (the case or a layer)")
	c.Flags().String("since", "", "only incidents with an alert since (RFC 3339, or a duration such as 24h)")
	c.Flags().String("query", "", "only incidents whose ID, title, host or a rule contains this text")
	addJSONFlag(c)
	return c
}

func incidentCmd() *cobra.Command {
	c := &cobra.Command{Use: "incident", Short: "Work on one incident"}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident with its evidence",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var d incident.Detail
			if err := cl.Get(cmd.Context(), wire.PathIncidents+"/"+url.PathEscape(args[0]), nil, &d); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), d)
			}
			return printIncident(cmd.OutOrStdout(), d)
		},
	}
	addJSONFlag(show)
	c.AddCommand(show)
	c.AddCommand(incidentActions()...)
	return c
}

func printIncident(w io.Writer, d incident.Detail) error {
	v := visible
	fmt.Fprintf(w, "Sự cố / Incident %s\n  %s\n", v(d.ID), v(d.Title))
	fmt.Fprintf(w, "  Mức độ / Severity: %s   Trạng thái / Status: %s   Đơn vị / Unit: %s\n", v(d.Severity), v(d.Status), v(d.Unit))
	fmt.Fprintf(w, "  Máy / Host: %s (%s) %s\n", v(d.Host.Name), v(d.Host.ID), v(strings.Join(d.Host.IPs, ", ")))
	for _, r := range d.Rules {
		fmt.Fprintf(w, "  Luật / Rule: %s (%s), %d alert(s)\n", v(r.Name), v(r.ID), r.Alerts)
	}
	if d.Resolution != "" {
		fmt.Fprintf(w, "  Kết luận / Resolution: %s %s\n", v(d.Resolution), v(d.DuplicateOf))
	}
	if len(d.Links) > 0 || len(d.Merged) > 0 {
		fmt.Fprintf(w, "  Liên kết / Linked: %s   Đã gộp / Merged: %s\n", dash(strings.Join(d.Links, ", ")), dash(strings.Join(d.Merged, ", ")))
	}
	fmt.Fprintf(w, "  Thời gian / Seen: %s → %s, %d alert(s)\n", d.FirstSeen.Local().Format(time.DateTime), d.LastSeen.Local().Format(time.DateTime), d.AlertCount)
	printLayers(w, d)
	printCase(w, d)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Bằng chứng / Evidence:")
	rows := make([][]string, 0, len(d.Evidence))
	for _, ev := range d.Evidence {
		rows = append(rows, []string{ev.Timestamp.Local().Format(time.DateTime), ev.Dataset, summary(ev)})
	}
	return table(w, "  TIME\tDATASET\tSUMMARY", prefix(rows, "  "))
}

// printCase adds the notes and the history of `lachan incident show`.
func printCase(w io.Writer, d incident.Detail) {
	if len(d.Notes) > 0 {
		fmt.Fprintln(w, "\nGhi chú / Notes:")
		for _, n := range d.Notes {
			fmt.Fprintf(w, "  %s %s: %s\n", n.At.Local().Format(time.DateTime), visible(n.Author), visible(n.Text))
		}
	}
	if len(d.History) > 0 {
		fmt.Fprintln(w, "\nLịch sử / History:")
		for _, c := range d.History {
			detail := ""
			if len(c.Detail) > 0 {
				b, _ := json.Marshal(c.Detail)
				detail = " " + string(b)
			}
			fmt.Fprintf(w, "  %s %s %s%s\n", c.At.Local().Format(time.DateTime), visible(c.By), c.Action, visible(detail))
		}
	}
}

func prefix(rows [][]string, p string) [][]string {
	for _, r := range rows {
		r[0] = p + r[0]
	}
	return rows
}

type unitList struct {
	Units []unit.Unit `json:"units"`
}

func unitsCmd() *cobra.Command {
	c := listCmd("units", "List the unit tree", wire.PathUnits, "ID\tPARENT\tNAME", func(out unitList) [][]string {
		rows := make([][]string, 0, len(out.Units))
		for _, u := range out.Units {
			rows = append(rows, []string{u.ID, u.Parent, u.Name})
		}
		return rows
	})
	apply := &cobra.Command{
		Use:   "apply FILE",
		Short: "Create or update units from a YAML file ({units: [{id, name, parent, enroll_secret}]})",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			specs, err := unit.LoadFile(args[0])
			if err != nil {
				return err
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			for _, s := range specs {
				if err := cl.Put(cmd.Context(), wire.PathUnits+"/"+url.PathEscape(s.ID), s, nil); err != nil {
					return fmt.Errorf("unit %s: %w", s.ID, err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d unit(s) applied\n", len(specs))
			return nil
		},
	}
	c.AddCommand(apply)
	return c
}
