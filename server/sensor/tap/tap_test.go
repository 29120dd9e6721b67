package tap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/sensor/pcapstore"
)

// recorder is a Sender that fails while dead and keeps what it is sent.
type recorder struct {
	mu   sync.Mutex
	dead bool
	evs  []event.Event
}

func (r *recorder) Send(_ context.Context, evs []event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead {
		return errors.New("connection refused")
	}
	r.evs = append(r.evs, evs...)
	return nil
}

func (r *recorder) flows() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Event
	for _, ev := range r.evs {
		if ev.Dataset == event.DatasetFlow {
			out = append(out, ev)
		}
	}
	return out
}

// udpTraffic sends one request and its echo from each of n sockets to a
// server on 127.0.0.1, and returns the server's port and the clients'.
func udpTraffic(t *testing.T, n int) (srvPort int, send func() []int) {
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			k, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			srv.WriteToUDP(buf[:k], from)
		}
	}()
	return srv.LocalAddr().(*net.UDPAddr).Port, func() []int {
		var ports []int
		for i := 0; i < n; i++ {
			c, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte(fmt.Sprintf("hello %d", i)))
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			if _, err := c.Read(buf); err != nil {
				t.Fatalf("echo %d: %v", i, err)
			}
			ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
			c.Close()
		}
		return ports
	}
}

func testConfig(t *testing.T, port int, spoolDir, captureDir string) Config {
	cfg := DefaultConfig()
	cfg.Interface, cfg.Filter = "lo", fmt.Sprintf("udp and host 127.0.0.1 and port %d", port)
	cfg.SpoolDir, cfg.SpoolBytes = spoolDir, 8<<20
	cfg.FlushInterval, cfg.DrainTimeout = 50*time.Millisecond, 300*time.Millisecond
	cfg.Capture.Dir, cfg.Capture.FileSize, cfg.Capture.Quota = captureDir, 1<<20, 8<<20
	return cfg
}

// startRun opens the interface first, so that no traffic the test makes
// afterwards is missed, then runs the sensor until ctx is done.
func startRun(t *testing.T, ctx context.Context, cfg Config, send Sender) <-chan Summary {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root or CAP_NET_RAW")
	}
	src, err := openLive(cfg)
	if err != nil {
		t.Skipf("cannot capture on lo here: %v", err)
	}
	done := make(chan Summary, 1)
	go func() {
		sum, err := run(ctx, cfg, src, send, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Errorf("run: %v", err)
		}
		done <- sum
	}()
	return done
}

// TestLiveCaptureSurvivesDeadServer captures flows on lo while the
// server is down, then ships them on the next start, and fetches each
// flow's packets back from the rolling capture.
func TestLiveCaptureSurvivesDeadServer(t *testing.T) {
	const n = 12
	port, traffic := udpTraffic(t, n)
	spoolDir, captureDir := t.TempDir(), t.TempDir()
	cfg := testConfig(t, port, spoolDir, captureDir)

	dead := &recorder{dead: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := startRun(t, ctx, cfg, dead)
	clients := traffic()
	time.Sleep(300 * time.Millisecond) // let the last packets reach the decoder
	cancel()
	sum := <-done
	if sum.Decoder.Flows != n || sum.Spooled != n || sum.Sent != 0 || sum.Pending != n || sum.SendErrors == 0 {
		t.Fatalf("first run with the server down: %+v; want %d flows spooled, none sent", sum, n)
	}

	alive := &recorder{}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	done2 := startRun(t, ctx2, cfg, alive)
	for deadline := time.Now().Add(5 * time.Second); len(alive.flows()) < n && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel2()
	sum2 := <-done2
	flows := alive.flows()
	if len(flows) != n || sum2.Pending != 0 {
		t.Fatalf("second run delivered %d flows, %d pending; want %d, 0", len(flows), sum2.Pending, n)
	}
	want := map[string]bool{}
	for _, p := range clients {
		want[fmt.Sprint(p)] = true
	}
	for _, ev := range flows {
		if !want[ev.String("source.port")] || ev.String("destination.port") != fmt.Sprint(port) ||
			ev.Int("source.packets") != 1 || ev.Int("destination.packets") != 1 {
			t.Errorf("unexpected flow %s", strings.Join([]string{ev.String("source.port"), ev.String("destination.port"),
				ev.String("source.packets"), ev.String("destination.packets")}, " "))
		}
		delete(want, ev.String("source.port"))
		var buf strings.Builder
		got, err := pcapstore.Fetch(context.Background(), captureDir, pcapstore.Query{CommunityID: ev.String("network.community_id")}, &buf)
		if err != nil || got != 2 {
			t.Errorf("fetch flow %s: %d packets, %v; want 2", ev.String("network.community_id"), got, err)
		}
	}
	if len(want) != 0 {
		t.Errorf("flows never delivered from client ports %v", want)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"interface", func(c *Config) { c.Interface = "" }, "interface"},
		{"batch", func(c *Config) { c.BatchSize = 0 }, "batch_size"},
		{"flush", func(c *Config) { c.FlushInterval = 0 }, "flush_interval"},
		{"spool", func(c *Config) { c.SpoolDir = "" }, "spool_dir"},
		{"capture", func(c *Config) { c.Capture.Dir, c.Capture.FileSize = "x", 1 }, "file_size"},
		{"decoder", func(c *Config) { c.Decoder.MaxFlows = 0 }, "MaxFlows"},
		{"seed negative", func(c *Config) { c.CommunityIDSeed = -1 }, "community_id_seed"},
		{"seed too large", func(c *Config) { c.CommunityIDSeed = 65536 }, "community_id_seed"},
	} {
		c := DefaultConfig()
		c.Interface, c.SpoolDir = "lo", "s"
		if err := c.Validate(); err != nil {
			t.Fatalf("defaults: %v", err)
		}
		tt.cfg(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
}
