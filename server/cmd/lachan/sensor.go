package main

import (
	"context"
	"fmt"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/client"
	"lachan/server/sensor/tap"
)

// sensorCmd runs the live network sensor as a service.
func sensorCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "sensor",
		Short: "Capture on a network interface and send flow, DNS, HTTP and TLS records to the server",
		Long: "Capture on sensor.interface (libpcap, BPF filter sensor.filter), decode flows, DNS, HTTP and TLS, " +
			"keep the packets in rolling files under sensor.capture.dir when set, and send the records to the " +
			"server's network ingest with a 'sensor' operator token (client.token or client.token_file), through " +
			"a durable spool under sensor.spool_dir (default DATA_DIR/sensor-spool). Stops on SIGINT or SIGTERM.",
		Args: cobra.NoArgs,
		RunE: runSensor,
	}
	c.Flags().String("sensor.interface", "", "network interface to capture on")
	c.Flags().String("sensor.filter", "", "BPF filter expression (tcpdump syntax)")
	c.Flags().String("sensor.capture.dir", "", "keep the packets in rolling pcap files here (empty: keep none)")
	c.Flags().String("sensor.spool_dir", "", "durable queue of records not yet sent")
	c.Flags().Int("sensor.community_id_seed", 0, "Community ID seed (0-65535), as the Zeek or Suricata deployment sets it")
	return c
}

func runSensor(cmd *cobra.Command, _ []string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	sc := cfg.Sensor
	if sc.SpoolDir == "" {
		sc.SpoolDir = filepath.Join(cfg.DataDir, "sensor-spool")
	}
	if err := sc.Validate(); err != nil {
		return err
	}
	log := logging.New(cfg.Log, cmd.ErrOrStderr())
	cc := cfg.sensorClient()
	cl, err := client.New(cc.Server, cc.CAFile, cc.TokenFile, cc.Token)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sum, err := tap.Run(ctx, sc, networkSender{cl}, log)
	fmt.Fprintf(cmd.OutOrStdout(), "sensor on %s: %d packets, %d flows, %d DNS, %d HTTP, %d TLS records; %d sent, %d left spooled\n",
		sc.Interface, sum.Decoder.Packets, sum.Decoder.Flows, sum.Decoder.DNSRecords, sum.Decoder.HTTPRecords,
		sum.Decoder.TLSRecords, sum.Sent, sum.Pending)
	return err
}

// networkSender sends records to the server's network ingest endpoint.
type networkSender struct{ cl *client.Client }

func (s networkSender) Send(ctx context.Context, evs []event.Event) error {
	_, err := s.cl.SendNetwork(ctx, evs)
	return err
}
