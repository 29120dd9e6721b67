package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"lachan/server/api"
	"lachan/server/indicator"
)

// indicatorBatch bounds the indicators sent in one request.
const indicatorBatch = 5000

func indicatorsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "indicators",
		Short: "Indicators of compromise (hashes, domains, addresses, URLs) matched on ingest",
	}
	c.AddCommand(indicatorsListCmd(), indicatorsAddCmd(), indicatorsRemoveCmd())
	return c
}

func indicatorsListCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List the server's indicators",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var out struct {
				Indicators []indicator.Indicator `json:"indicators"`
			}
			if err := cl.Get(cmd.Context(), api.PathIndicators, nil, &out); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, 0, len(out.Indicators))
			for _, ind := range out.Indicators {
				until := "-"
				if !ind.ValidUntil.IsZero() {
					until = ind.ValidUntil.Format("2006-01-02")
				}
				rows = append(rows, []string{ind.Type, ind.Value, ind.Source, until, ind.ID})
			}
			return table(cmd.OutOrStdout(), "TYPE\tVALUE\tSOURCE\tUNTIL\tID", rows)
		},
	}
	addJSONFlag(c)
	return c
}

func indicatorsAddCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "add FILE...",
		Short: "Add indicators from STIX 2.1 bundles (.json) or plain lists (one value a line), then sweep stored events for them",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			source, _ := cmd.Flags().GetString("source")
			noSweep, _ := cmd.Flags().GetBool("no-sweep")
			var all []indicator.Indicator
			bad := 0
			for _, path := range args {
				inds, errs := readIndicatorFile(path, source)
				for _, e := range errs {
					fmt.Fprintln(cmd.ErrOrStderr(), e)
				}
				bad += len(errs)
				all = append(all, inds...)
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			added, swept := 0, 0
			for start := 0; start < len(all); start += indicatorBatch {
				var out api.IndicatorsAdded
				req := api.IndicatorsAdd{Indicators: all[start:min(start+indicatorBatch, len(all))], NoSweep: noSweep}
				if err := cl.Post(cmd.Context(), api.PathIndicators, req, &out); err != nil {
					return fmt.Errorf("add indicators (%d added before): %w", added, err)
				}
				added += out.Added
				swept += out.SweptAlerts
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d indicator(s) added, %d skipped; the sweep of stored events raised %d alert(s)\n", added, bad, swept)
			if bad > 0 {
				return fmt.Errorf("%d entr(ies) could not be read (listed above)", bad)
			}
			return nil
		},
	}
	c.Flags().String("source", "", "where the indicators come from (default: the file name)")
	c.Flags().Bool("no-sweep", false, "do not look back over stored events")
	return c
}

// readIndicatorFile reads a STIX bundle (a file whose first non-blank
// character is { or [) or a plain list.
func readIndicatorFile(path, source string) ([]indicator.Indicator, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{fmt.Errorf("read indicators: %w", err)}
	}
	if source == "" {
		source = filepath.Base(path)
	}
	trimmed := strings.TrimLeft(string(data), " \t\r\n\ufeff")
	if strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") {
		inds, errs := indicator.ParseSTIX(strings.NewReader(trimmed), path)
		return withSource(inds, source), errs
	}
	inds, errs := indicator.ParsePlain(strings.NewReader(string(data)), path)
	return withSource(inds, source), errs
}

func withSource(inds []indicator.Indicator, source string) []indicator.Indicator {
	for i := range inds {
		inds[i].Source = source
	}
	return inds
}

// indicatorsRemoveCmd removes indicators by ID (or by STIX object ID).
func indicatorsRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID...",
		Short: "Remove indicators by ID or by the STIX object they came from",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			for _, id := range args {
				if err := cl.Delete(cmd.Context(), api.PathIndicators+"/"+url.PathEscape(id), nil, nil); err != nil {
					return fmt.Errorf("remove %s: %w", id, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "indicator %s removed\n", id)
			}
			return nil
		},
	}
}
