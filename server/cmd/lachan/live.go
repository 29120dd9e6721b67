package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lachan/internal/wire"
	"lachan/server/live"
)

func liveCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "live SQL",
		Short: "Run osquery SQL now on the chosen agents and show each host's answer",
		Long: "Runs one SELECT on the agents of --unit (with their sub-units), --host and --label, or on every\n" +
			"agent you may see. Agents pick it up at their next check-in; the command waits until\n" +
			"every host has answered, is offline, or the query times out.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			units, _ := cmd.Flags().GetStringSlice("unit")
			hosts, _ := cmd.Flags().GetStringSlice("host")
			labels, _ := cmd.Flags().GetStringSlice("label")
			timeout, _ := cmd.Flags().GetDuration("timeout")
			var q live.Query
			if err := cl.Post(cmd.Context(), wire.PathLive, wire.LiveRequest{SQL: args[0], Units: units, Hosts: hosts, Labels: labels, Timeout: timeout}, &q); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "live query %s sent to %d host(s); waiting up to %s\n", q.ID, len(q.Targets), time.Until(q.Deadline).Round(time.Second))
			var rep live.Report
			for {
				if err := cl.Get(cmd.Context(), wire.PathLive+"/"+q.ID, nil, &rep); err != nil {
					return err
				}
				if rep.Done {
					break
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(time.Second):
				}
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			return printLive(cmd, rep)
		},
	}
	c.Flags().StringSlice("unit", nil, "only agents of these units and their sub-units")
	c.Flags().StringSlice("host", nil, "only these hosts (names or agent IDs)")
	c.Flags().StringSlice("label", nil, "only agents carrying one of these labels (their own or assigned by the server)")
	c.Flags().Duration("timeout", 0, "how long to wait for hosts (default: the server's live.timeout)")
	addJSONFlag(c)
	return c
}

func printLive(cmd *cobra.Command, rep live.Report) error {
	rows := make([][]string, 0, len(rep.Hosts))
	for _, h := range rep.Hosts {
		rows = append(rows, []string{h.Host, h.Unit, h.Status, fmt.Sprint(h.Rows), h.Message})
	}
	if err := table(cmd.OutOrStdout(), "HOST\tUNIT\tSTATUS\tROWS\tMESSAGE", rows); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout())
	for _, ev := range rep.Rows {
		cols := map[string]any{}
		for k, v := range ev.Fields {
			if name, ok := strings.CutPrefix(k, "osquery.columns."); ok {
				cols[name] = v
			}
		}
		b, _ := json.Marshal(cols) // keys sorted by encoding/json
		fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", visible(ev.String("host.name")), visible(string(b)))
	}
	return nil
}
