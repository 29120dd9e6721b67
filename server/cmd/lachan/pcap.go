package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/sensor"
)

func pcapCmd() *cobra.Command {
	c := &cobra.Command{Use: "pcap", Short: "Work with packet captures"}
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Decode a pcap/pcapng file into flow and DNS records and send them to the server",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newSensorClient(cmd)
			if err != nil {
				return err
			}
			start := time.Now()
			var batch []event.Event
			var total wire.IngestResponse
			flush := func() error {
				if len(batch) == 0 {
					return nil
				}
				r, err := cl.SendNetwork(cmd.Context(), batch)
				total.Received += r.Received
				total.Stored += r.Stored
				total.Duplicates += r.Duplicates
				total.Alerts += r.Alerts
				batch = batch[:0]
				return err
			}
			stats, err := sensor.DecodeFile(cmd.Context(), args[0], sensor.DefaultConfig(), func(ev event.Event) error {
				batch = append(batch, ev)
				if len(batch) >= wire.MaxIngestEvents {
					return flush()
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d packets, %d flows, %d DNS records, %d undecodable packets\n",
				args[0], stats.Packets, stats.Flows, stats.DNSRecords, stats.DecodeErrors)
			for _, e := range stats.Errors {
				fmt.Fprintf(cmd.OutOrStdout(), "  %v\n", e)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent %d records: %d stored, %d already stored, %d alerts (%s)\n",
				total.Received, total.Stored, total.Duplicates, total.Alerts, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	c.AddCommand(imp, pcapDecodeCmd(), pcapFetchCmd())
	return c
}
