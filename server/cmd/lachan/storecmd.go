package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"lachan/internal/wire"
	"lachan/server/store"
)

// aggregateCmd counts events: top values, distinct values, events over
// time — what reports and the console summarise with.
func aggregateCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "aggregate",
		Short: "Count events: top values of a field, distinct values, events per interval",
		Example: `  lachan aggregate --agg terms:host.name:20 --dataset yara.finding --since 24h
  lachan aggregate --agg cardinality:source.ip --agg date_histogram:1h --query 'rule.id:*'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			q := url.Values{}
			for _, f := range []string{"dataset", "host", "term", "agg"} {
				vals, _ := cmd.Flags().GetStringSlice(f)
				q[f] = vals
			}
			if s, _ := cmd.Flags().GetString("since"); s != "" {
				q.Set("from", s)
			}
			if s, _ := cmd.Flags().GetString("query"); s != "" {
				q.Set("q", s)
			}
			var out struct {
				Aggregations []store.AggResult `json:"aggregations"`
			}
			if err := cl.Get(cmd.Context(), wire.PathAggregate, q, &out); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), out)
			}
			for _, a := range out.Aggregations {
				fmt.Fprintf(cmd.OutOrStdout(), "# %s\n", a.Name)
				if a.Kind == store.AggCardinality {
					fmt.Fprintf(cmd.OutOrStdout(), "%d distinct values\n", a.Value)
					continue
				}
				rows := make([][]string, 0, len(a.Buckets)+1)
				for _, b := range a.Buckets {
					rows = append(rows, []string{b.Key, fmt.Sprint(b.Count)})
				}
				if a.Other > 0 {
					rows = append(rows, []string{"(other values)", fmt.Sprint(a.Other)})
				}
				if err := table(cmd.OutOrStdout(), "VALUE\tEVENTS", rows); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().StringSlice("agg", nil, "terms:FIELD[:SIZE], cardinality:FIELD or date_histogram:INTERVAL (repeatable)")
	c.Flags().StringSlice("dataset", nil, "only these datasets")
	c.Flags().StringSlice("host", nil, "only these host IDs")
	c.Flags().StringSlice("term", nil, "field:value filters")
	c.Flags().String("query", "", "hunting query")
	c.Flags().String("since", "", "only newer than this (RFC 3339, or a duration such as 24h)")
	addJSONFlag(c)
	return c
}

// deadLettersCmd lists, and replays, events the store set aside because a
// field did not fit the mapping.
func deadLettersCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "deadletters [--replay [ID...]]",
		Short: "List events set aside for not fitting the field mapping; --replay tries them again",
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			if replay, _ := cmd.Flags().GetBool("replay"); replay {
				var res map[string]int
				if err := cl.Post(cmd.Context(), wire.PathDeadLetters+"/replay", map[string][]string{"ids": args}, &res); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d stored; the others still do not fit and stay set aside\n", res["stored"])
				return nil
			}
			if len(args) > 0 {
				return fmt.Errorf("event IDs are for --replay")
			}
			var out struct {
				DeadLetters []store.DeadLetter `json:"dead_letters"`
			}
			if err := cl.Get(cmd.Context(), wire.PathDeadLetters, nil, &out); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, 0, len(out.DeadLetters))
			for _, d := range out.DeadLetters {
				rows = append(rows, []string{d.ID, ago(d.At), d.Field, d.Reason})
			}
			return table(cmd.OutOrStdout(), "ID\tSET ASIDE\tFIELD\tWHY", rows)
		},
	}
	c.Flags().Bool("replay", false, "store the named dead letters (all when none is named) that fit now")
	addJSONFlag(c)
	return c
}
