// Package tlsconftest helps tests check which TLS peers a configuration
// accepts.
package tlsconftest

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// Handshake runs a TLS handshake between server and client over loopback
// and returns the client's error.
func Handshake(t testing.TB, server, client *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.(*tls.Conn).Handshake()
		c.Close()
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), client)
	if err != nil {
		return err
	}
	return c.Close()
}
