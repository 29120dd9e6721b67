package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/gopacket/gopacket/pcapgo"

	"lachan/server/sensor"
)

// measureFlows feeds a capture of n concurrent flows to a Decoder whose
// flow table holds exactly n, and reports the heap the open flows take:
// the live heap after a collection with all of them open, less the live
// heap before the first packet.
func measureFlows(ctx context.Context, n int, dir string, stdout io.Writer) error {
	o := genOptions(n - 3) // the capture's own DNS, TLS and ICMP flows make three more
	o.Concurrent = true
	path, cleanup, err := writeCapture(dir, o)
	if err != nil {
		return err
	}
	defer cleanup()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return err
	}
	cfg := sensor.DefaultConfig()
	cfg.MaxFlows = n
	var d discard
	before := liveHeap()
	dec, err := sensor.NewDecoder(cfg, &d)
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		if i&4095 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		data, ci, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if err := dec.Packet(data, ci, r.LinkType()); err != nil {
			return err
		}
	}
	after := liveHeap()
	open := dec.OpenFlows()
	st := dec.Stats()
	runtime.KeepAlive(dec)
	runtime.KeepAlive(r) // its buffer counts in before, so it must in after too
	if st.FlowsEvicted != 0 || open != n {
		return fmt.Errorf("%d flows open, %d evicted: want all %d open", open, st.FlowsEvicted, n)
	}
	used := after - before
	fmt.Fprintf(stdout, "flow table bound (MaxFlows) %d; %d flows open at once: %.1f MiB live heap, %d bytes per flow\n",
		cfg.MaxFlows, open, float64(used)/(1<<20), used/uint64(open))
	fmt.Fprintf(stdout, "at the default bound of %d flows that is %.1f MiB\n",
		sensor.DefaultConfig().MaxFlows, float64(used)/float64(open)*float64(sensor.DefaultConfig().MaxFlows)/(1<<20))
	return nil
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
