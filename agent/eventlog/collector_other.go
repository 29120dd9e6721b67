//go:build !windows

package eventlog

import "context"

// Run has nothing to read off Windows: it says so in every channel's
// status and returns.
func (c *Collector) Run(ctx context.Context) {
	for _, ch := range c.channels {
		ch.setError("Windows event logs are read on Windows only")
	}
}
