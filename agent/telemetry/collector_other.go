//go:build !linux

package telemetry

import "context"

// Run reports ErrUnsupported: there is no collector for this platform.
func (c *Collector) Run(ctx context.Context) error {
	for _, k := range c.kinds() {
		c.setStatus(k, "unavailable: "+ErrUnsupported.Error())
	}
	return ErrUnsupported
}
