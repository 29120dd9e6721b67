// Command pcapgen writes a synthetic packet capture for tests and
// benchmarks of the sensor; see package lachan/test/pcapgen.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"lachan/test/pcapgen"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("pcapgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "capture file to write (required)")
	client := fs.String("client", "192.168.1.10", "client IPv4 address")
	server := fs.String("server", "93.184.216.34", "server IPv4 address (the DNS answer)")
	dns := fs.String("dns", "192.168.1.1", "DNS resolver IPv4 address")
	domain := fs.String("domain", "example.org", "domain the client resolves")
	start := fs.String("start", "", "time of the first packet, RFC 3339 (default now)")
	flows := fs.Int("flows", 0, "extra short TCP/UDP flows for load")
	seed := fs.Int64("seed", 1, "random seed")
	fragment := fs.Int("fragment", 0, "split IPv4 packets into fragments of this many payload bytes (a multiple of 8)")
	concurrent := fs.Bool("concurrent", false, "make the extra flows single UDP datagrams 1 µs apart, all open at once")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("pcapgen: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("pcapgen: unexpected arguments: %q", fs.Args())
	}
	if *out == "" {
		return errors.New("pcapgen: -out FILE is required")
	}
	o := pcapgen.Options{Domain: *domain, Flows: *flows, Seed: *seed, Start: time.Now().UTC(),
		FragmentSize: *fragment, Concurrent: *concurrent}
	var err error
	for _, a := range []struct {
		flag string
		val  string
		dst  *netip.Addr
	}{{"client", *client, &o.Client}, {"server", *server, &o.Server}, {"dns", *dns, &o.DNSServer}} {
		if *a.dst, err = netip.ParseAddr(a.val); err != nil {
			return fmt.Errorf("pcapgen: -%s: %w", a.flag, err)
		}
	}
	if *start != "" {
		if o.Start, err = time.Parse(time.RFC3339Nano, *start); err != nil {
			return fmt.Errorf("pcapgen: -start: not an RFC 3339 time: %q", *start)
		}
	}
	if err := o.Validate(); err != nil {
		return err
	}
	return writeFile(*out, o)
}

func writeFile(path string, o pcapgen.Options) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("pcapgen: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := pcapgen.Write(bw, o); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("pcapgen: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pcapgen: close %s: %w", path, err)
	}
	return nil
}
