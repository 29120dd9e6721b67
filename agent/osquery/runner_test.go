package osquery

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"

	"lachan/internal/event"
)

// fakeOsqueryd answers the extension manager API the way osqueryd does,
// with canned rows per SQL text.
type fakeOsqueryd struct {
	rows map[string]gen.ExtensionPluginResponse
}

var _ gen.ExtensionManager = (*fakeOsqueryd)(nil)

func (f *fakeOsqueryd) Ping(context.Context) (*gen.ExtensionStatus, error) {
	return &gen.ExtensionStatus{Code: 0, Message: "OK"}, nil
}

func (f *fakeOsqueryd) Call(context.Context, string, string, gen.ExtensionPluginRequest) (*gen.ExtensionResponse, error) {
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: "no such plugin"}}, nil
}

func (f *fakeOsqueryd) Shutdown(context.Context) error { return nil }

func (f *fakeOsqueryd) Extensions(context.Context) (gen.InternalExtensionList, error) {
	return gen.InternalExtensionList{}, nil
}

func (f *fakeOsqueryd) Options(context.Context) (gen.InternalOptionList, error) {
	return gen.InternalOptionList{}, nil
}

func (f *fakeOsqueryd) RegisterExtension(context.Context, *gen.InternalExtensionInfo, gen.ExtensionRegistry) (*gen.ExtensionStatus, error) {
	return &gen.ExtensionStatus{Code: 1, Message: "not in this test"}, nil
}

func (f *fakeOsqueryd) DeregisterExtension(context.Context, gen.ExtensionRouteUUID) (*gen.ExtensionStatus, error) {
	return &gen.ExtensionStatus{Code: 1, Message: "not in this test"}, nil
}

func (f *fakeOsqueryd) Query(_ context.Context, sql string) (*gen.ExtensionResponse, error) {
	rows, ok := f.rows[sql]
	if !ok {
		return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: "no such table: " + sql}}, nil
	}
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0, Message: "OK"}, Response: rows}, nil
}

func (f *fakeOsqueryd) GetQueryColumns(context.Context, string) (*gen.ExtensionResponse, error) {
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: "not in this test"}}, nil
}

// serve runs the fake on a unix socket as osqueryd's extension manager.
// Idle connections time out on the server side, or Stop would wait for
// the runner to hang up.
func serve(t *testing.T, f *fakeOsqueryd) (string, func()) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "osquery.em")
	addr, err := net.ResolveUnixAddr("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := thrift.NewTSimpleServer2(gen.NewExtensionManagerProcessor(f), thrift.NewTServerSocketFromAddrTimeout(addr, 300*time.Millisecond))
	srv.SetLogger(func(string) {}) // idle time-outs are expected
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.AcceptLoop() }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			srv.Stop()
			<-done
		}
	}
	t.Cleanup(stop)
	return sock, stop
}

func testPack() Pack {
	return Pack{Queries: []Query{
		{Name: "processes", SQL: "SELECT pid, name FROM processes", Interval: time.Minute, Platform: "all"},
		{Name: "broken", SQL: "SELECT * FROM nowhere", Interval: time.Minute},
		{Name: "windows_only", SQL: "SELECT * FROM services", Interval: time.Minute, Platform: "windows"},
		{Name: "info", SQL: "SELECT version FROM osquery_info", Interval: time.Hour, Platform: "posix"},
	}}
}

func TestRunOnce(t *testing.T) {
	fake := &fakeOsqueryd{rows: map[string]gen.ExtensionPluginResponse{
		"SELECT pid, name FROM processes":  {{"pid": "1", "name": "systemd"}, {"pid": "42", "name": "sshd", "count(*)": "7"}},
		"SELECT version FROM osquery_info": {{"version": "5.10.2"}},
		"SELECT * FROM services":           {{"name": "must not run"}},
	}}
	sock, _ := serve(t, fake)
	r := NewRunner(Config{Socket: sock, Timeout: 2 * time.Second}, testPack(), nil)
	r.goos = "linux"
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return at }
	var evs []event.Event
	err := r.RunOnce(context.Background(), "agent-7", func(ev event.Event) error { evs = append(evs, ev); return nil })
	if err == nil || !strings.Contains(err.Error(), "query broken") || errors.Is(err, ErrUnavailable) {
		t.Fatalf("RunOnce error %v, want the broken query reported", err)
	}
	if r.Status() != "ok" {
		t.Fatalf("Status %q", r.Status())
	}
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	want := []map[string]any{ // pack order, then row order
		{"osquery.name": "processes", "osquery.columns.pid": "1", "osquery.columns.name": "systemd"},
		{"osquery.name": "processes", "osquery.columns.pid": "42", "osquery.columns.count___": "7"},
		{"osquery.name": "info", "osquery.columns.version": "5.10.2"},
	}
	for i, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
		if ev.Dataset != event.DatasetOsquery || !ev.Timestamp.Equal(at) || ev.Fields["osquery.action"] != "snapshot" ||
			ev.Fields["host.id"] != "agent-7" || ev.Fields["agent.id"] != "agent-7" {
			t.Errorf("event %d: %+v", i, ev)
		}
		for k, v := range want[i] {
			if ev.Fields[k] != v {
				t.Errorf("event %d: %s = %v, want %v", i, k, ev.Fields[k], v)
			}
		}
	}
	// Timed, so that a run's rows sit together in the store's ID index.
	if id := event.DeriveTimedID(at, "osquery", "agent-7", "processes", "1740830400000000000", "1"); evs[1].ID != id {
		t.Errorf("ID %s, want %s", evs[1].ID, id)
	}
	// An emit failure (a full spool) stops the run and is returned.
	full := errors.New("spool full")
	if err := r.RunOnce(context.Background(), "agent-7", func(event.Event) error { return full }); !errors.Is(err, full) {
		t.Errorf("emit failure: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "missing.em")
	r := NewRunner(Config{Socket: sock, Timeout: 300 * time.Millisecond}, testPack(), nil)
	if !strings.HasPrefix(r.Status(), "osquery unavailable: ") {
		t.Errorf("Status before any contact: %q", r.Status())
	}
	err := r.RunOnce(context.Background(), "a", func(event.Event) error { t.Error("emitted"); return nil })
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("RunOnce: %v, want ErrUnavailable", err)
	}
	if st := r.Status(); !strings.HasPrefix(st, "osquery unavailable: ") || len(st) <= len("osquery unavailable: ") {
		t.Errorf("Status %q", st)
	}
}

// A server that goes away makes the runner unavailable; one that comes
// back is found again.
func TestReconnect(t *testing.T) {
	fake := &fakeOsqueryd{rows: map[string]gen.ExtensionPluginResponse{"SELECT 1": {{"1": "1"}}}}
	sock, stop := serve(t, fake)
	pack := Pack{Queries: []Query{{Name: "one", SQL: "SELECT 1", Interval: time.Minute}}}
	r := NewRunner(Config{Socket: sock, Timeout: 500 * time.Millisecond}, pack, nil)
	emit := func(event.Event) error { return nil }
	if err := r.RunOnce(context.Background(), "a", emit); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := r.RunOnce(context.Background(), "a", emit); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after the server stopped: %v", err)
	}
	if !strings.HasPrefix(r.Status(), "osquery unavailable") {
		t.Fatalf("Status %q", r.Status())
	}
}

func TestRun(t *testing.T) {
	fake := &fakeOsqueryd{rows: map[string]gen.ExtensionPluginResponse{"SELECT 1": {{"x": "1"}}}}
	sock, _ := serve(t, fake)
	pack := Pack{Queries: []Query{{Name: "one", SQL: "SELECT 1", Interval: time.Hour}}}
	r := NewRunner(Config{Socket: sock, Timeout: time.Second}, pack, nil)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan event.Event, 10)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, "a", func(ev event.Event) error { got <- ev; return nil }) }()
	select {
	case ev := <-got:
		if ev.Fields["osquery.columns.x"] != "1" {
			t.Errorf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run emitted nothing")
	}
	if r.Status() != "ok" {
		t.Errorf("Status %q", r.Status())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
	if len(got) != 0 {
		t.Errorf("an hourly query ran again at once")
	}
}
