package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"lachan/server/sensor/pcapstore"
)

// pcapFetchCmd extracts the packets of one flow from the rolling capture
// files a sensor keeps.
func pcapFetchCmd() *cobra.Command {
	var dir, cid, from, to, out string
	c := &cobra.Command{
		Use:   "fetch --dir DIR --community-id ID [--from T] [--to T] -o OUT.pcap",
		Short: "Extract the packets of one flow (by Community ID) from a sensor's capture files into a pcap",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := pcapstore.Query{CommunityID: cid}
			var err error
			if q.From, err = parseTimeFlag("--from", from); err != nil {
				return err
			}
			if q.To, err = parseTimeFlag("--to", to); err != nil {
				return err
			}
			if dir == "" || cid == "" || out == "" {
				return errors.New("--dir, --community-id and -o are required")
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			n, err := pcapstore.Fetch(cmd.Context(), dir, q, f)
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("write %s: %w", out, cerr)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d packets of flow %s\n", out, n, cid)
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "capture directory of the sensor (sensor.capture.dir)")
	c.Flags().StringVar(&cid, "community-id", "", "Community ID of the flow, e.g. 1:Q4lwsh7O2qLUuoeucgxzIiml4zE=")
	c.Flags().StringVar(&from, "from", "", "only packets at or after this time (RFC 3339)")
	c.Flags().StringVar(&to, "to", "", "only packets at or before this time (RFC 3339)")
	c.Flags().StringVarP(&out, "output", "o", "", "pcap file to write")
	return c
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: not an RFC 3339 time: %q", name, v)
	}
	return t, nil
}
