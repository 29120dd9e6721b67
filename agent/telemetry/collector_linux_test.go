package telemetry

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
)

// TestCollectorLinux runs the collector for real: it needs root for the
// process-events connector.
func TestCollectorLinux(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the process-events connector needs root, and CI must run this test")
		}
		t.Skip("not root: the process-events connector needs CAP_NET_ADMIN")
	}
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Processes, cfg.Network, cfg.Paths = true, true, []string{dir}
	var mu sync.Mutex
	var got []event.Event
	c := New(cfg, "agent-1", func(ev event.Event) error {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		return nil
	}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "collector ready", func() bool {
		st := c.Status()
		return st[KindProcess] == "ok" && st[KindNetwork] == "ok" && st[KindFile] == "ok"
	})

	cmd := exec.Command("/bin/sh", "-c", "echo ZWNobyBoaQ== | base64 -d | sh")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "hi" {
		t.Fatalf("command: %v %q", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A connection still in the accept queue has no socket inode yet.
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// A connected UDP socket (a DNS client's kind) and one bound to a
	// chosen port are seen through socket diagnostics.
	udpSrv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer udpSrv.Close()
	udpConn, err := net.DialUDP("udp", nil, udpSrv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer udpConn.Close()
	udpPort := int64(udpSrv.LocalAddr().(*net.UDPAddr).Port)
	if err := os.WriteFile(filepath.Join(dir, "dropped.sh"), []byte("id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := int64(ln.Addr().(*net.TCPAddr).Port)

	find := func(match func(event.Event) bool) (event.Event, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range got {
			if match(ev) {
				return ev, true
			}
		}
		return event.Event{}, false
	}
	var shell event.Event
	waitFor(t, "the shell's exec event", func() bool {
		var ok bool
		shell, ok = find(func(ev event.Event) bool {
			return ev.Dataset == DatasetProcess && ev.String("process.command_line") == "/bin/sh -c echo ZWNobyBoaQ== | base64 -d | sh"
		})
		return ok
	})
	if shell.String("process.executable") == "" || shell.String("user.name") != "root" ||
		shell.String("process.working_directory") != dir || shell.Int("process.parent.pid") != int64(os.Getpid()) ||
		!strings.HasSuffix(shell.String("process.parent.executable"), ".test") {
		t.Errorf("exec event: %v", shell.Fields)
	}
	// base64 may have exited before /proc was read: its parent is known
	// even then, from the table of recent execs, and its name while it is
	// a zombie; once reaped (a busy machine) the event says what is
	// missing instead.
	waitFor(t, "base64's exec event with its parent", func() bool {
		_, ok := find(func(ev event.Event) bool {
			if ev.String("process.parent.command_line") != "/bin/sh -c echo ZWNobyBoaQ== | base64 -d | sh" {
				return false
			}
			return ev.String("process.name") == "base64" || ev.String("process.name") == "" && ev.Fields["telemetry.missing"] != nil
		})
		return ok
	}, func() {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range got {
			if ev.Dataset == DatasetProcess && ev.Int("process.pid") > shell.Int("process.pid")-2 && ev.Int("process.pid") < shell.Int("process.pid")+10 {
				t.Logf("%v", ev.Fields)
			}
		}
	})
	waitFor(t, "listen, connect and accept events", func() bool {
		n := 0
		for _, a := range []string{"listen", "connect", "accept"} {
			if ev, ok := find(func(ev event.Event) bool {
				if ev.Dataset != DatasetNetwork || ev.String("event.action") != a {
					return false
				}
				if a == "connect" {
					return ev.Int("destination.port") == port
				}
				return ev.Int("source.port") == port
			}); ok && ev.Int("process.pid") == int64(os.Getpid()) {
				n++
			}
		}
		return n == 3
	})
	waitFor(t, "the UDP connect event", func() bool {
		ev, ok := find(func(ev event.Event) bool {
			return ev.Dataset == DatasetNetwork && ev.String("network.transport") == "udp" &&
				ev.String("event.action") == "connect" && ev.Int("destination.port") == udpPort
		})
		return ok && ev.Int("process.pid") == int64(os.Getpid()) && ev.String("network.initiated") == "true"
	})
	waitFor(t, "the file creation event", func() bool {
		_, ok := find(func(ev event.Event) bool {
			return ev.Dataset == DatasetFile && ev.String("event.action") == "creation" && ev.String("file.path") == filepath.Join(dir, "dropped.sh")
		})
		return ok
	})
	for _, ev := range got {
		if err := ev.Validate(); err != nil {
			t.Errorf("invalid event %v: %v", ev.Fields, err)
		}
	}
}

func waitFor(t *testing.T, what string, ok func() bool, dump ...func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			for _, d := range dump {
				d()
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDiagSockets asks the kernel for real, both ways, and finds a
// listener of each address family and a connected UDP socket.
func TestDiagSockets(t *testing.T) {
	var lns []net.Listener
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v", addr, err) // a machine without IPv6
			continue
		}
		defer ln.Close()
		lns = append(lns, ln)
	}
	u, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, oldTCP := range []bool{true, false} {
		socks, err := diagSockets(make([]byte, 32<<10), oldTCP)
		if err != nil {
			t.Fatalf("older TCP request %v: %v", oldTCP, err)
		}
		for _, ln := range lns {
			want := ln.Addr().(*net.TCPAddr).AddrPort()
			if !slices.ContainsFunc(socks, func(s tcpSocket) bool { return !s.UDP && s.State == tcpListen && s.Local == want && s.Inode != 0 }) {
				t.Errorf("older TCP request %v: listener %v not among %d sockets", oldTCP, want, len(socks))
			}
		}
		local := u.LocalAddr().(*net.UDPAddr).AddrPort()
		if !slices.ContainsFunc(socks, func(s tcpSocket) bool {
			return s.UDP && s.State == tcpEstablished && s.Local.Port() == local.Port() && s.Remote.Port() == 9
		}) {
			t.Errorf("older TCP request %v: connected UDP socket %v not found", oldTCP, local)
		}
	}
}

// TestShortConnections opens and closes connections faster than the
// socket table is read: they are reported as the kernel destroys them.
func TestShortConnections(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the destroyed-sockets group needs root, and CI must run this test")
		}
		t.Skip("not root: the destroyed-sockets group needs CAP_NET_ADMIN")
	}
	cfg := DefaultConfig()
	cfg.Network, cfg.ShortConnections = true, true
	var mu sync.Mutex
	var got []event.Event
	c := New(cfg, "agent-1", func(ev event.Event) error {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		return nil
	}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "collector ready", func() bool { return c.Status()[KindNetwork] == "ok" })
	time.Sleep(200 * time.Millisecond) // the watcher joins its group after the first poll starts

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			s, err := ln.Accept()
			if err != nil {
				return
			}
			s.Close()
		}
	}()
	port := int64(ln.Addr().(*net.TCPAddr).Port)
	for range 3 {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	waitFor(t, "the short connections' connect events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, ev := range got {
			if ev.String("event.action") == "connect" && ev.Int("destination.port") == port && ev.String("network.initiated") == "true" {
				n++
			}
		}
		return n >= 3
	}, func() {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range got {
			t.Logf("%v", ev.Fields)
		}
	})
}

func TestClosedDecision(t *testing.T) {
	p := &netPoller{open: map[uint64]bool{7: true}, listening: map[uint16]bool{80: true}}
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		name   string
		s      tcpSocket
		action string
	}{
		{"a connect no poll saw", tcpSocket{Local: ap("10.0.0.5:40000"), Remote: ap("203.0.113.9:443"), Cookie: 9}, "connect"},
		{"an accept on a port listened on", tcpSocket{Local: ap("10.0.0.5:80"), Remote: ap("198.51.100.7:50000"), Cookie: 10}, "accept"},
		{"seen open at the last poll", tcpSocket{Local: ap("10.0.0.5:40001"), Remote: ap("203.0.113.9:443"), Cookie: 7}, ""},
		{"a listener", tcpSocket{Local: ap("0.0.0.0:8080"), Remote: ap("0.0.0.0:0"), State: tcpListen, Cookie: 11}, ""},
		{"no cookie", tcpSocket{Local: ap("10.0.0.5:40002"), Remote: ap("203.0.113.9:443")}, ""},
	} {
		ci, ok := p.closed(tc.s, time.Now())
		if ok != (tc.action != "") || ok && (ci.Action != tc.action || !ci.Closed || ci.Sock.Inode != 0) {
			t.Errorf("%s: %+v %v", tc.name, ci, ok)
		}
	}
}
