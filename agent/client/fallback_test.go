package client

import (
	"context"
	"net"
	"net/netip"
	"testing"
)

// TestDialFallback: a server name that does not resolve (an isolated PC
// without DNS) is dialled at the addresses isolation kept for it, the
// next one when one fails.
func TestDialFallback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	addr := net.JoinHostPort("lachan-server.invalid", port)
	ctx := context.Background()
	if c, err := dialer(Options{})(ctx, "tcp", addr); err == nil {
		c.Close()
		t.Fatal("an .invalid name resolved")
	}
	known := Options{Fallback: func(host string) []netip.Addr {
		if host == "lachan-server.invalid" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")}
		}
		return nil
	}}
	c, err := dialer(known)(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial with the known addresses: %v", err)
	}
	c.Close()
}
