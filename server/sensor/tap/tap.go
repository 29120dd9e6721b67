package tap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"lachan/internal/event"
	"lachan/internal/spool"
	"lachan/server/sensor"
	"lachan/server/sensor/pcapstore"
)

// Sender delivers a batch of records to the server; it returns nil only
// once the server has them.
type Sender interface {
	Send(ctx context.Context, evs []event.Event) error
}

// source is where packets come from: a live interface, or a test's.
type source interface {
	read() ([]byte, gopacket.CaptureInfo, error) // errTimeout when no packet came in time
	link() layers.LinkType
	dropped() int64 // packets the kernel or libpcap dropped
	close()
}

var errTimeout = errors.New("no packet before the read timeout")

// Summary is what a run did.
type Summary struct {
	Decoder       sensor.Stats
	Capture       pcapstore.Stats
	KernelDropped int64 // packets lost before the sensor saw them
	Spooled       int64 // records put in the spool
	Sent          int64 // records the server acknowledged
	Pending       int   // records left in the spool for the next start
	SendErrors    int64 // failed deliveries (each retried)
}

// Run captures on cfg.Interface until ctx is done, then ends the open
// flows, sends what it can within cfg.DrainTimeout and returns.
func Run(ctx context.Context, cfg Config, send Sender, log *slog.Logger) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	src, err := openLive(cfg)
	if err != nil {
		return Summary{}, err
	}
	return run(ctx, cfg, src, send, log)
}

func run(ctx context.Context, cfg Config, src source, send Sender, log *slog.Logger) (sum Summary, err error) {
	log = log.With("component", "sensor", "interface", cfg.Interface)
	defer src.close()
	sc := spool.DefaultConfig()
	sc.Dir, sc.MaxBytes, sc.SegmentBytes = cfg.SpoolDir, cfg.SpoolBytes, min(cfg.SpoolBytes/8, 8<<20)
	sp, err := spool.Open(sc, log)
	if err != nil {
		return sum, fmt.Errorf("sensor: spool: %w", err)
	}
	defer sp.Close()
	t := &tapper{cfg: cfg, src: src, sp: sp, log: log, send: send}
	if t.dec, err = sensor.NewDecoder(cfg.DecoderConfig(), t); err != nil {
		return sum, err
	}
	if cfg.Capture.Dir != "" {
		if t.store, err = pcapstore.Open(cfg.Capture, log); err != nil {
			return sum, err
		}
		t.dec.SetPacketSink(t.store)
	}
	log.Info("sensor started", "filter", cfg.Filter, "pending", sp.Len(), "capture_dir", cfg.Capture.Dir)
	shipCtx, stopShip := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); t.ship(shipCtx, ctx.Done(), cfg.DrainTimeout) }()
	err = t.capture(ctx)
	if ferr := t.finish(); err == nil {
		err = ferr
	}
	t.flushed.Store(true)
	wg.Wait()
	stopShip()
	sum = t.summary()
	log.Info("sensor stopped", "packets", sum.Decoder.Packets, "flows", sum.Decoder.Flows,
		"records_spooled", sum.Spooled, "records_sent", sum.Sent, "pending", sum.Pending,
		"kernel_dropped", sum.KernelDropped, "capture_files_deleted", sum.Capture.FilesDeleted)
	return sum, err
}
