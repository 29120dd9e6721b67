// Command sensorbench measures the sensor as a whole process against
// tshark on the same synthetic capture, and the memory its flow table
// takes per open flow.
//
//	sensorbench [-flows N] [-rounds R]   time tshark -n -q -z conv,tcp and the sensor
//	sensorbench -flowmem N               open N flows at once; report bytes per flow
//	sensorbench -decode FILE [-cpuprofile OUT]   the sensor's side of a round alone
//
// The capture comes from test/pcapgen and is written to a temporary
// directory, removed afterwards. In the comparison each round runs
// tshark and then this binary again (as `sensorbench -decode FILE`, which
// decodes the file into all its records and discards them), each as a
// fresh process timed by wall clock; the best of the rounds counts.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"time"

	"lachan/internal/event"
	"lachan/server/sensor"
	"lachan/test/pcapgen"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sensorbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sensorbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flows := fs.Int("flows", 200_000, "load flows in the synthetic capture (about 6 packets each)")
	rounds := fs.Int("rounds", 3, "alternating rounds of tshark and the sensor; the best of each counts")
	tshark := fs.String("tshark", "tshark", "tshark binary")
	flowmem := fs.Int("flowmem", 0, "instead of timing, open this many flows at once and report their memory")
	decode := fs.String("decode", "", "decode this capture into records and discard them (the sensor's side of a round)")
	dir := fs.String("dir", "", "directory for the capture (default a new temporary one)")
	cpuprofile := fs.String("cpuprofile", "", "with -decode, write a CPU profile of the decoding to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *decode != "":
		return decodeOnly(ctx, *decode, *cpuprofile, stdout)
	case *flowmem > 0:
		return measureFlows(ctx, *flowmem, *dir, stdout)
	}
	if *flows <= 0 || *rounds <= 0 {
		return errors.New("-flows and -rounds must be positive")
	}
	return compare(ctx, *flows, *rounds, *tshark, *dir, stdout)
}

// discard is a Sink that drops every record, counting them.
type discard struct{ records int64 }

func (d *discard) Flow(*sensor.Flow) error { d.records++; return nil }
func (d *discard) Event(event.Event) error { d.records++; return nil }

func decodeOnly(ctx context.Context, path, cpuprofile string, stdout io.Writer) error {
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var d discard
	st, err := sensor.DecodeFileRecords(ctx, path, sensor.DefaultConfig(), &d)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d packets %d records %d decode-errors\n", st.Packets, d.records, st.DecodeErrors)
	return nil
}

// writeCapture writes a pcapgen capture to dir (or a new temporary
// directory) and returns its path and a function removing what it made.
func writeCapture(dir string, o pcapgen.Options) (string, func(), error) {
	cleanup := func() {}
	if dir == "" {
		d, err := os.MkdirTemp("", "sensorbench")
		if err != nil {
			return "", nil, err
		}
		dir, cleanup = d, func() { os.RemoveAll(d) }
	}
	path := filepath.Join(dir, "sensorbench.pcap")
	f, err := os.Create(path)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = pcapgen.Write(bw, o)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("write capture %s: %w", path, err)
	}
	return path, func() { os.Remove(path); cleanup() }, nil
}

func genOptions(flows int) pcapgen.Options {
	return pcapgen.Options{Client: netip.MustParseAddr("192.168.1.10"), Server: netip.MustParseAddr("93.184.216.34"),
		DNSServer: netip.MustParseAddr("192.168.1.1"), Domain: "example.org",
		Start: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Flows: flows, Seed: 1}
}

func compare(ctx context.Context, flows, rounds int, tshark, dir string, stdout io.Writer) error {
	if _, err := exec.LookPath(tshark); err != nil {
		return fmt.Errorf("tshark not found (-tshark): %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	path, cleanup, err := writeCapture(dir, genOptions(flows))
	if err != nil {
		return err
	}
	defer cleanup()
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "capture: %s, %d load flows, %.1f MB\n", path, flows, float64(fi.Size())/1e6)
	best := [2]time.Duration{}
	var sensorOut []byte
	for r := 1; r <= rounds; r++ {
		for i, c := range [][]string{{tshark, "-n", "-q", "-z", "conv,tcp", "-r", path}, {self, "-decode", path}} {
			start := time.Now()
			out, err := exec.CommandContext(ctx, c[0], c[1:]...).Output()
			took := time.Since(start)
			if err != nil {
				return fmt.Errorf("round %d: %s: %w", r, c[0], err)
			}
			if i == 1 {
				sensorOut = out
			}
			if best[i] == 0 || took < best[i] {
				best[i] = took
			}
			fmt.Fprintf(stdout, "round %d: %-7s %v\n", r, []string{"tshark", "sensor"}[i], took.Round(time.Millisecond))
		}
	}
	fmt.Fprintf(stdout, "sensor: %s", sensorOut)
	fmt.Fprintf(stdout, "best of %d: tshark %v, sensor %v: the sensor is %.1fx faster\n", rounds,
		best[0].Round(time.Millisecond), best[1].Round(time.Millisecond), float64(best[0])/float64(best[1]))
	return nil
}
