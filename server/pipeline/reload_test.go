package pipeline

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lachan/internal/event"
)

// countingCorrelator counts the events it observes.
type countingCorrelator struct{ n atomic.Int64 }

func (c *countingCorrelator) Observe(_ event.Event, alerts []event.Event) []event.Event {
	c.n.Add(1)
	return alerts
}

// TestReloadBetweenBatches holds a batch inside detection and asks for a
// reload meanwhile: the swap runs only once every event of that batch has
// been correlated with the old rules, and the next batch is detected with
// the new detector only.
func TestReloadBetweenBatches(t *testing.T) {
	ctx := context.Background()
	p, _, _, _ := setup(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var oldCalls, newCalls atomic.Int64
	p.SetDetector(DetectorFunc(func(event.Event) []event.Event {
		once.Do(func() { close(entered); <-release })
		oldCalls.Add(1)
		return nil
	}))
	corr := &countingCorrelator{}
	p.SetCorrelator(corr)
	batch := func(n int) []event.Event {
		var evs []event.Event
		for range n {
			evs = append(evs, event.New(event.DatasetYARA, time.Unix(1_800_000_000, 0)))
		}
		return evs
	}
	done := make(chan error, 1)
	go func() { _, err := p.Process(ctx, batch(3)); done <- err }()
	<-entered
	atSwap := make(chan int64, 1)
	reloaded := make(chan struct{})
	go func() {
		p.Reload(DetectorFunc(func(event.Event) []event.Event { newCalls.Add(1); return nil }), func() { atSwap <- corr.n.Load() })
		close(reloaded)
	}()
	// Wait until the reload is waiting for the batch (a writer waiting
	// makes TryRLock fail), or is done.
	for waiting := false; !waiting; {
		select {
		case <-reloaded:
			waiting = true
		default:
			if p.rules.TryRLock() {
				p.rules.RUnlock()
				runtime.Gosched()
			} else {
				waiting = true
			}
		}
	}
	close(release)
	if n := <-atSwap; n != 3 {
		t.Fatalf("swapped with %d of the batch's 3 events correlated", n)
	}
	<-reloaded
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := p.Process(ctx, batch(2)); err != nil {
		t.Fatal(err)
	}
	if o, n := oldCalls.Load(), newCalls.Load(); o != 3 || n != 2 {
		t.Fatalf("old detector ran on %d events, new on %d; want 3 and 2", o, n)
	}
}
