package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"lachan/server/sensor"
)

// progressEvery is how often `pcap decode` reports on stderr.
const progressEvery = 2 * time.Second

func pcapDecodeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "decode FILE",
		Short: "Decode a pcap/pcapng file and print its records as JSON lines",
		Long: "Decode a pcap/pcapng file (optionally gzip-compressed) into flow, DNS, HTTP and TLS records " +
			"and print each as one JSON line on stdout; progress and a summary go to stderr. The decoder " +
			"settings and the Community ID seed are the live sensor's (sensor.decoder.*, sensor.community_id_seed).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return decodeCapture(cmd, args[0])
		},
	}
	c.Flags().Int("sensor.community_id_seed", 0, "Community ID seed (0-65535), as the Zeek or Suricata deployment sets it")
	return c
}

func decodeCapture(cmd *cobra.Command, path string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	if err := cfg.Sensor.ValidateSeed(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
	errOut := cmd.ErrOrStderr()
	pr := &progressReader{r: f, size: size, start: time.Now(), last: time.Now(), w: errOut, path: path}
	st, err := sensor.DecodeRecords(cmd.Context(), pr, cfg.Sensor.DecoderConfig(), &jsonLines{w: out, records: &pr.records})
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("writing records: %w", ferr)
	}
	if errors.Is(err, sensor.ErrNotCapture) {
		return fmt.Errorf("%s is not a packet capture (want pcap or pcapng, optionally gzip-compressed): %w", path, err)
	}
	printSummary(errOut, path, st, time.Since(pr.start))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func printSummary(w io.Writer, path string, st sensor.Stats, took time.Duration) {
	fmt.Fprintf(w, "%s: %d packets (%d bytes) in %s: %d flows, %d DNS, %d HTTP, %d TLS records; "+
		"%d skipped, %d undecodable packets, %d flows evicted, %d TCP overlaps, %d TCP gaps, %d malformed HTTP/TLS streams\n",
		path, st.Packets, st.Bytes, took.Round(time.Millisecond), st.Flows, st.DNSRecords, st.HTTPRecords, st.TLSRecords,
		st.Skipped, st.DecodeErrors, st.FlowsEvicted, st.TCPOverlaps, st.TCPGaps, st.AppErrors)
	for _, e := range st.Errors {
		fmt.Fprintf(w, "  %v\n", e)
	}
	if int64(len(st.Errors)) < st.DecodeErrors {
		fmt.Fprintf(w, "  ... and %d more undecodable packets\n", st.DecodeErrors-int64(len(st.Errors)))
	}
}

// progressReader reports how far decoding has read, at most every
// progressEvery; the decoder reads in large blocks, so checking the clock
// on each read costs nothing.
type progressReader struct {
	r       io.Reader
	w       io.Writer
	path    string
	size    int64
	read    int64
	records int64
	start   time.Time
	last    time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	if now := time.Now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		pct := ""
		if p.size > 0 {
			pct = fmt.Sprintf(" (%.0f%%)", 100*float64(p.read)/float64(p.size))
		}
		fmt.Fprintf(p.w, "%s: read %d MB%s, %d records, %s\n", p.path, p.read>>20, pct, p.records,
			now.Sub(p.start).Round(time.Second))
	}
	return n, err
}
