package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
)

// Run collects every kind switched on until ctx ends. A kind that cannot
// start (not root, a kernel without the connector) is reported in Status
// and the others go on; Run returns an error only when none could start.
func (c *Collector) Run(ctx context.Context) error {
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		c.bootID = string(bytes.TrimSpace(b))
	}
	runs := map[string]func(context.Context, func()) error{
		KindProcess: c.runProcesses,
		KindNetwork: c.runNetwork,
		KindFile:    c.runFiles,
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	kinds := c.kinds()
	for _, k := range kinds {
		c.setStatus(k, "starting")
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := runs[k](ctx, func() { c.setStatus(k, "ok") })
			if err == nil || ctx.Err() != nil {
				return
			}
			c.setStatus(k, "unavailable: "+err.Error())
			if c.log != nil {
				c.log.Error("telemetry collection stopped", "kind", k, "err", err)
			}
			mu.Lock()
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(errs) == len(kinds) && len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}
