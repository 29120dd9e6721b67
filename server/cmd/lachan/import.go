package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"lachan/internal/event"
	"lachan/internal/wire"
)

// importBatch is how many events one request of lachan import carries.
const importBatch = 1000

func importCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "import FILE... [--unit U]",
		Short: "Send .evtx and Windows event JSON files to the server as the events of the PCs they name",
		Long: "Read Windows events from the files as `lachan detect` does (.evtx, Windows event JSON;\n" +
			"\"-\" for standard input) and send them to the server, which files each under the agent\n" +
			"whose host name is the event's computer name (or its short name) and runs detection\n" +
			"on them. Events of a computer no agent has are refused unless --unit names the unit\n" +
			"of such PCs; they are then kept under that computer's name. Events keep their IDs,\n" +
			"so importing a file again stores nothing twice.",
		Args: cobra.MinimumNArgs(1),
		RunE: runImport,
	}
	c.Flags().String("unit", "", "unit of the PCs no agent has")
	return c
}

func runImport(cmd *cobra.Command, files []string) error {
	unit, _ := cmd.Flags().GetString("unit")
	cl, err := newClient(cmd)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	start := time.Now()
	var total wire.IngestResponse
	var bad int
	var batch []event.Event
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		r, err := cl.SendImport(cmd.Context(), batch, unit)
		if err != nil {
			return err
		}
		total.Received += r.Received
		total.Stored += r.Stored
		total.Duplicates += r.Duplicates
		total.Alerts += r.Alerts
		batch = batch[:0]
		fmt.Fprintf(stderr, "lachan import: %d events sent, %d stored, %d alerts\n", total.Received, total.Stored, total.Alerts)
		return nil
	}
	for _, f := range files {
		h := func(ev event.Event, err error) error {
			if err != nil {
				bad++
				fmt.Fprintf(stderr, "%s: %v\n", f, err)
				return nil
			}
			if f != "-" {
				ev.Set("log.file.path", f)
			}
			batch = append(batch, ev)
			if len(batch) >= importBatch {
				return flush()
			}
			return cmd.Context().Err()
		}
		if err := readEventFile(f, cmd.InOrStdin(), false, h); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "sent %d events: %d stored, %d already stored, %d alerts; %d unreadable records (%s)\n",
		total.Received, total.Stored, total.Duplicates, total.Alerts, bad, time.Since(start).Round(time.Millisecond))
	return nil
}
