package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// dialer dials as the standard transport does, except that when a name
// does not resolve it tries the addresses o.Fallback knows for it. An
// isolated PC may reach its server but no DNS server (none configured in
// actions.dns): it must still find its server to be released.
func dialer(o Options) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if o.Fallback == nil {
		return d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		var dnsErr *net.DNSError
		if err == nil || !errors.As(err, &dnsErr) {
			return c, err
		}
		host, port, serr := net.SplitHostPort(addr)
		if serr != nil {
			return nil, err
		}
		for _, a := range o.Fallback(host) {
			if c, ferr := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port)); ferr == nil {
				return c, nil
			} else {
				err = fmt.Errorf("%w; known address %s: %v", err, a, ferr)
			}
		}
		return nil, err
	}
}
