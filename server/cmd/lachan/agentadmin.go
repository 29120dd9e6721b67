package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"lachan/internal/wire"
	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/server/unit"
)

// withAgentAdmin adds the admin's commands on one agent to `agents`.
func withAgentAdmin(c *cobra.Command) *cobra.Command {
	remove := agentActionCmd("remove ID", "Delete an agent's record (its data stays); its certificate is refused from now on",
		"DELETE", "", "removed")
	revoke := agentActionCmd("revoke ID", "Revoke an agent: every request with its certificates is refused, renewal too; the record stays",
		"POST", "/revoke", "revoked")
	history := &cobra.Command{
		Use:   "history ID",
		Short: "An agent's history: enrollment, reinstall, renames, address changes and conflicts, revocation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{"dataset": {fleet.DatasetAgent}, "host": {args[0]}, "limit": {"1000"}}
			return printEvents(cmd, q, "TIME\tCHANGE\tBEFORE\tAFTER\tDETAIL", func(f map[string]any) []string {
				return []string{str(f["event.action"]), str(f["lachan.change.before"]), str(f["lachan.change.after"]), str(f["message"])}
			})
		},
	}
	addJSONFlag(history)
	c.AddCommand(remove, revoke, history)
	return c
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// printEvents lists events of the events endpoint: JSON for machines, a
// table (time first) for people.
func printEvents(cmd *cobra.Command, q url.Values, header string, row func(map[string]any) []string) error {
	cl, err := newClient(cmd)
	if err != nil {
		return err
	}
	var page api.EventsPage
	if err := cl.Get(cmd.Context(), wire.PathEvents, q, &page); err != nil {
		return err
	}
	if wantJSON(cmd) {
		return printJSON(cmd.OutOrStdout(), page)
	}
	rows := make([][]string, 0, len(page.Events))
	for _, ev := range page.Events {
		rows = append(rows, append([]string{ev.Timestamp.Local().Format(time.DateTime)}, row(ev.Fields)...))
	}
	return table(cmd.OutOrStdout(), header, rows)
}

func agentActionCmd(use, short, method, suffix, done string) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			path := wire.PathAgents + "/" + url.PathEscape(args[0]) + suffix
			var a fleet.Agent
			if method == "DELETE" {
				err = cl.Delete(cmd.Context(), path, nil, &a)
			} else {
				err = cl.Post(cmd.Context(), path, struct{}{}, &a)
			}
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), a)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "agent %s (%s, unit %s) %s\n", a.ID, a.Host.Name, a.Unit, done)
			return nil
		},
	}
	addJSONFlag(c)
	return c
}

// withUnitAdmin adds enrollment codes and secret rotation to `units`.
func withUnitAdmin(c *cobra.Command) *cobra.Command {
	codes := &cobra.Command{
		Use:   "codes UNIT",
		Short: "Issue one-time enrollment codes for a unit (each enrolls one PC, then is used up)",
		Example: `  lachan units codes phuong-ben-thanh --count 20 --expires 72h
  lachan-agent run --config agent.yml   # with server.enroll_code: ABCD-EFGH-JKLM-NPQR`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			n, _ := cmd.Flags().GetInt("count")
			exp, _ := cmd.Flags().GetDuration("expires")
			var out struct {
				Codes   []string  `json:"codes"`
				Expires time.Time `json:"expires"`
			}
			if err := cl.Post(cmd.Context(), wire.PathUnits+"/"+url.PathEscape(args[0])+"/codes", api.CodesRequest{Count: n, Expires: exp}, &out); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), out)
			}
			for _, code := range out.Codes {
				fmt.Fprintln(cmd.OutOrStdout(), code)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d one-time code(s) for %s, valid until %s; each is shown only now\n", len(out.Codes), args[0], out.Expires.Local().Format(time.DateTime))
			return nil
		},
	}
	codes.Flags().Int("count", 1, "how many codes")
	codes.Flags().Duration("expires", 72*time.Hour, "how long the codes stay usable (at most "+unit.MaxCodeValidity.String()+")")
	addJSONFlag(codes)
	rotate := &cobra.Command{
		Use:   "rotate-secret UNIT",
		Short: "Give a unit a new enrollment secret; the old one works for --grace more",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			grace, _ := cmd.Flags().GetDuration("grace")
			var out struct {
				Secret string `json:"secret"`
			}
			if err := cl.Post(cmd.Context(), wire.PathUnits+"/"+url.PathEscape(args[0])+"/rotate-secret", api.RotateRequest{Grace: grace}, &out); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out.Secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "new enrollment secret of %s (shown only now); the old one works until %s\n", args[0], time.Now().Add(grace).Format(time.DateTime))
			return nil
		},
	}
	rotate.Flags().Duration("grace", 24*time.Hour, "how long the old secret keeps working (0: stops now)")
	c.AddCommand(codes, rotate)
	return c
}
