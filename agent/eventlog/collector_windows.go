package eventlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/windows"
)

// batch is how many events one EvtNext takes; the bookmark is saved after
// each batch is spooled.
const batch = 64

// Run reads every channel until ctx ends, each in its own goroutine; a
// channel that cannot be read (Sysmon not installed, no right to the
// Security log) is tried again every minute, its reason in the status.
func (c *Collector) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ch := range c.channels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := c.read(ctx, ch)
				if ctx.Err() != nil {
					return
				}
				ch.setError(err.Error())
				c.log.Warn("event log channel not read; retrying in a minute", "channel", ch.cfg.Name, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Minute):
				}
			}
		}()
	}
	wg.Wait()
}

// read subscribes to one channel from its bookmark and spools its events
// until ctx ends or the subscription fails.
func (c *Collector) read(ctx context.Context, ch *channel) error {
	saved, err := c.loadBookmark(ch.cfg.Name)
	if err != nil {
		return err
	}
	bm, err := evtCreateBookmark(saved)
	if err != nil {
		// A damaged bookmark file: start over rather than never read.
		c.log.Warn("saved bookmark unusable; starting anew", "channel", ch.cfg.Name, "err", err)
		saved = ""
		if bm, err = evtCreateBookmark(""); err != nil {
			return fmt.Errorf("EvtCreateBookmark: %w", err)
		}
	}
	defer evtClose(bm)
	flags := uint32(evtSubscribeToFutureEvents)
	switch {
	case saved != "":
		// Not strict: if the log wrapped past the bookmark, read from the
		// oldest event left.
		flags = evtSubscribeStartAfterBookmark
	case c.cfg.FromOldest:
		flags = evtSubscribeStartAtOldestRecord
	}
	signal, err := windows.CreateEvent(nil, 1, 1, nil)
	if err != nil {
		return fmt.Errorf("CreateEvent: %w", err)
	}
	defer windows.CloseHandle(signal)
	sub, err := evtSubscribe(signal, ch.cfg.Name, ch.cfg.Query(), bm, flags)
	if err != nil {
		if errors.Is(err, errorEvtChannelMissing) {
			return fmt.Errorf("channel %q not found on this PC", ch.cfg.Name)
		}
		return fmt.Errorf("EvtSubscribe %q: %w", ch.cfg.Name, err)
	}
	defer evtClose(sub)
	ch.setError("")
	c.log.Info("reading event log channel", "channel", ch.cfg.Name, "resumed", saved != "")
	events := make([]evtHandle, batch)
	var buf []uint16
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ev, err := windows.WaitForSingleObject(signal, 1000)
		if err != nil {
			return fmt.Errorf("WaitForSingleObject: %w", err)
		}
		if ev == uint32(windows.WAIT_TIMEOUT) {
			continue
		}
		if err := c.drain(ctx, ch, sub, bm, events, &buf); err != nil {
			return err
		}
		windows.ResetEvent(signal)
		// Events that came between the last EvtNext and the reset are
		// read now rather than at the next signal.
		if err := c.drain(ctx, ch, sub, bm, events, &buf); err != nil {
			return err
		}
	}
}

// drain takes batches until none are left: each event is rendered and
// spooled, the bookmark moved past it, and the bookmark saved once the
// batch is in the spool.
func (c *Collector) drain(ctx context.Context, ch *channel, sub, bm evtHandle, events []evtHandle, buf *[]uint16) error {
	for {
		n, err := evtNext(sub, events, 0)
		if errors.Is(err, errorNoMoreItems) || errors.Is(err, errorTimeout) {
			return nil
		}
		if err != nil {
			if errors.Is(err, errorInvalidOperation) {
				return errors.New("subscription ended by Windows")
			}
			return fmt.Errorf("EvtNext: %w", err)
		}
		moved := false
		var stop error
		for i, h := range events[:n] {
			if stop == nil {
				stop = c.one(ctx, ch, h, buf)
				if stop == nil {
					if err := evtUpdateBookmark(bm, h); err != nil {
						stop = fmt.Errorf("EvtUpdateBookmark: %w", err)
					} else {
						moved = true
					}
				}
			}
			evtClose(h)
			events[i] = 0
		}
		if moved {
			xml, err := evtRenderXML(bm, evtRenderBookmark, buf)
			if err != nil {
				return fmt.Errorf("render bookmark: %w", err)
			}
			if err := c.saveBookmark(ch.cfg.Name, xml); err != nil {
				return err
			}
		}
		if stop != nil {
			return stop
		}
	}
}

// one renders and hands on one event. An event that cannot be rendered
// is counted and passed over.
func (c *Collector) one(ctx context.Context, ch *channel, h evtHandle, buf *[]uint16) error {
	xml, err := evtRenderXML(h, evtRenderEventXml, buf)
	if err != nil {
		ch.mu.Lock()
		ch.stats.Read++
		ch.stats.Errors++
		ch.mu.Unlock()
		return nil
	}
	return c.handle(ctx, ch, []byte(xml))
}
