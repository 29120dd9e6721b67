package client

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/internal/wire"
)

// connectProxy is a minimal HTTPS proxy on loopback: it answers CONNECT
// and relays bytes both ways, recording each target it was asked for.
type connectProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	targets []string
	auth    []string
}

func newConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *connectProxy) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, req.Method+" "+req.Host)
	p.auth = append(p.auth, req.Header.Get("Proxy-Authorization"))
	p.mu.Unlock()
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, br); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (p *connectProxy) seen() (targets, auth []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...), append([]string(nil), p.auth...)
}

// TestProxy enrolls, checks in and ships through the proxy: every request
// must reach the server by CONNECT, with TLS (and the pinned CA) end to
// end, and with the proxy's credentials when the URL has them.
func TestProxy(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t, 100*24*time.Hour)
	ts.Config.Handler.(*http.ServeMux).HandleFunc(wire.PathIngest, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"received":` + strconv.FormatInt(n, 10) + `}`))
	})
	px := newConnectProxy(t)
	o := Options{Proxy: "http://agent:s3cret@" + px.ln.Addr().String()}
	state := t.TempDir()
	if _, err := EnrollWith(ctx, state, ts.URL, ts.caPath, "secret", wire.Host{Name: "pc"}, o); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state, caFile), mustRead(t, ts.caPath), 0o600) // see TestEnrollRenewAndRecover
	c, err := LoadWith(state, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckIn(ctx, wire.CheckInRequest{}); err != nil {
		t.Fatal(err)
	}
	wrapped := 0
	resp, err := c.IngestWrapped(ctx, []byte("0123456789"), func(r io.Reader) io.Reader { wrapped++; return r })
	if err != nil || resp.Received != 10 || wrapped == 0 {
		t.Fatalf("ingest through the proxy: %+v %v (wrapped %d)", resp, err, wrapped)
	}
	targets, auth := px.seen()
	host := strings.TrimPrefix(ts.URL, "https://")
	if len(targets) == 0 {
		t.Fatal("nothing went through the proxy")
	}
	for i, tg := range targets {
		if tg != "CONNECT "+host {
			t.Errorf("proxy asked for %q, want CONNECT %s", tg, host)
		}
		if !strings.HasPrefix(auth[i], "Basic ") {
			t.Errorf("CONNECT without the proxy's credentials: %q", auth[i])
		}
	}

	// A proxy that is down fails the request; it is not bypassed.
	dead := Options{Proxy: "http://" + px.ln.Addr().String()}
	px.ln.Close()
	c2, err := LoadWith(state, dead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.CheckIn(ctx, wire.CheckInRequest{}); err == nil {
		t.Fatal("check-in succeeded with the proxy down: the proxy was bypassed")
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		proxy string
		ok    bool
	}{
		{"", true},
		{"http://proxy.local:3128", true},
		{"https://proxy.local:3128", true},
		{"http://user:pw@proxy.local:3128/", true},
		{"socks5://proxy.local:1080", false},
		{"proxy.local:3128", false},
		{"http://", false},
		{"http://proxy.local:3128/path", false},
		{"http://u:pw@[bad", false},
	}
	for _, c := range cases {
		err := Options{Proxy: c.proxy}.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%q: %v", c.proxy, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: the error shows the password: %v", c.proxy, err)
		}
	}
}
