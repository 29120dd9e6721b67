package osquery

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/transport"

	"lachan/internal/event"
)

// fakeManager plays osqueryd's extension manager for an extension: it
// accepts registrations and hands out route UUIDs, as osqueryd does.
type fakeManager struct {
	fakeOsqueryd
	mu           sync.Mutex
	next         int64
	registries   []gen.ExtensionRegistry
	deregistered []gen.ExtensionRouteUUID
	registered   chan gen.ExtensionRouteUUID
}

func newFakeManager() *fakeManager {
	return &fakeManager{next: 1000, registered: make(chan gen.ExtensionRouteUUID, 10)}
}

func (f *fakeManager) RegisterExtension(_ context.Context, info *gen.InternalExtensionInfo, reg gen.ExtensionRegistry) (*gen.ExtensionStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if info.Name != DefaultExtensionName {
		return &gen.ExtensionStatus{Code: 1, Message: "unexpected extension " + info.Name}, nil
	}
	f.next++
	f.registries = append(f.registries, reg)
	f.registered <- gen.ExtensionRouteUUID(f.next)
	return &gen.ExtensionStatus{Code: 0, Message: "OK", UUID: gen.ExtensionRouteUUID(f.next)}, nil
}

func (f *fakeManager) DeregisterExtension(_ context.Context, uuid gen.ExtensionRouteUUID) (*gen.ExtensionStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deregistered = append(f.deregistered, uuid)
	return &gen.ExtensionStatus{Code: 0, Message: "OK"}, nil
}

// serveManager serves m at sock until the returned stop is called. The
// server drops idle connections after a second, or stopping would wait
// for the extension to hang up.
func serveManager(t *testing.T, sock string, m gen.ExtensionManager) func() {
	t.Helper()
	addr, err := net.ResolveUnixAddr("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := thrift.NewTSimpleServer2(gen.NewExtensionManagerProcessor(m), thrift.NewTServerSocketFromAddrTimeout(addr, time.Second))
	srv.SetLogger(func(string) {})
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.AcceptLoop() }()
	var once sync.Once
	stop := func() { once.Do(func() { srv.Stop(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// extensionClient is osqueryd's side of the extension's own socket,
// <socket>.<uuid>, over which osqueryd calls the plugins.
type extensionClient struct {
	t     *testing.T
	trans thrift.TTransport
	c     *gen.ExtensionClient
}

func dialExtension(t *testing.T, sock string, uuid gen.ExtensionRouteUUID) *extensionClient {
	t.Helper()
	trans, err := transport.Open(sock+"."+strconv.FormatInt(int64(uuid), 10), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trans.Close() })
	return &extensionClient{t: t, trans: trans, c: gen.NewExtensionClientFactory(trans, thrift.NewTBinaryProtocolFactoryDefault())}
}

func (x *extensionClient) call(registry string, req gen.ExtensionPluginRequest) *gen.ExtensionResponse {
	x.t.Helper()
	resp, err := x.c.Call(context.Background(), registry, DefaultExtensionName, req)
	if err != nil || resp.Status == nil {
		x.t.Fatalf("call %s %v: %v %+v", registry, req, err, resp)
	}
	return resp
}

// sink collects emitted events and can be told to fail.
type sink struct {
	mu   sync.Mutex
	evs  []event.Event
	fail error
}

func (s *sink) emit(ev event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.evs = append(s.evs, ev)
	return nil
}

// take returns and forgets what was emitted.
func (s *sink) take() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.evs
	s.evs = nil
	return evs
}

func testExtensionConfig(sock string) ExtensionConfig {
	c := DefaultExtensionConfig()
	c.Socket, c.AgentID = sock, "agent-7"
	c.Timeout, c.PingInterval = 2*time.Second, 50*time.Millisecond
	c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startExtension(t *testing.T, x *Extension) (cancel func()) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	var once sync.Once
	cancel = func() {
		once.Do(func() {
			stop()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(cancel)
	return cancel
}

func TestExtensionServesOsqueryd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "osquery.em")
	mgr := newFakeManager()
	serveManager(t, sock, mgr)
	var out sink
	x, err := NewExtension(testExtensionConfig(sock), out.emit, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := Policy{
		Schedule: Pack{Queries: []Query{{Name: "processes", SQL: "SELECT pid FROM processes", Interval: time.Minute, Platform: "posix"}}},
		Packs:    map[string]Pack{"baseline": {Queries: []Query{{Name: "users", SQL: "SELECT * FROM users", Interval: time.Hour}}}},
	}
	if err := x.SetPolicy(policy); err != nil {
		t.Fatal(err)
	}
	cancel := startExtension(t, x)
	var uuid gen.ExtensionRouteUUID
	select {
	case uuid = <-mgr.registered:
	case <-time.After(10 * time.Second):
		t.Fatal("the extension did not register")
	}
	waitFor(t, "status ok", func() bool { return x.Status() == "ok" })
	mgr.mu.Lock()
	reg := mgr.registries[0]
	mgr.mu.Unlock()
	for _, r := range []string{"config", "logger", "distributed"} {
		if _, ok := reg[r][DefaultExtensionName]; !ok {
			t.Errorf("registry %s lacks %s: %v", r, DefaultExtensionName, reg)
		}
	}
	osqd := dialExtension(t, sock, uuid)
	t.Run("config", func(t *testing.T) { checkGenConfig(t, osqd) })
	t.Run("logger", func(t *testing.T) { checkLogger(t, osqd, &out) })
	t.Run("distributed", func(t *testing.T) { checkDistributed(t, osqd, x, &out) })
	osqd.trans.Close() // osqueryd hangs up, as it does when it stops
	cancel()
	mgr.mu.Lock()
	defer mgr.mu.Unlock()
	if len(mgr.deregistered) != 1 || mgr.deregistered[0] != uuid {
		t.Errorf("deregistered %v, want [%d]", mgr.deregistered, uuid)
	}
}

func checkGenConfig(t *testing.T, osqd *extensionClient) {
	resp := osqd.call("config", gen.ExtensionPluginRequest{"action": "genConfig"})
	if resp.Status.Code != 0 || len(resp.Response) != 1 {
		t.Fatalf("genConfig: %+v", resp)
	}
	var doc struct {
		Schedule map[string]configQuery `json:"schedule"`
		Packs    map[string]configPack  `json:"packs"`
	}
	if err := json.Unmarshal([]byte(resp.Response[0][DefaultExtensionName]), &doc); err != nil {
		t.Fatalf("config %q: %v", resp.Response[0], err)
	}
	want := configQuery{Query: "SELECT pid FROM processes", Interval: 60, Platform: "posix"}
	if doc.Schedule["processes"] != want || doc.Packs["baseline"].Queries["users"].Interval != 3600 {
		t.Errorf("config %+v", doc)
	}
	if resp := osqd.call("config", gen.ExtensionPluginRequest{"action": "nonsense"}); resp.Status.Code == 0 {
		t.Error("an unknown config action succeeded")
	}
}

// Result lines in the three formats osqueryd logs, and status lines.
const (
	eventLine    = `{"name":"pack_baseline_users","hostIdentifier":"pc-1","unixTime":1700000000,"epoch":0,"counter":3,"decorations":{"host_uuid":"u-1"},"columns":{"uid":"0","username":"root"},"action":"added"}`
	batchLine    = `{"name":"processes","hostIdentifier":"pc-1","unixTime":"1700000060","diffResults":{"added":[{"pid":"7"},{"pid":"8"}],"removed":[{"pid":"1"}]}}`
	snapshotLine = `{"name":"info","hostIdentifier":"pc-1","unixTime":1700000120,"snapshot":[{"version":"5.10.2"}],"action":"snapshot"}`
	statusLog    = `[{"s":0,"f":"scheduler.cpp","i":98,"m":"Executing scheduled query processes","h":"pc-1","c":"Tue Nov 14 22:13:20 2023 UTC","u":1700000000},{"s":2,"f":"config.cpp","i":7,"m":"bad pack","h":"pc-1","c":"","u":1700000001}]`
)

func checkLogger(t *testing.T, osqd *extensionClient, out *sink) {
	if resp := osqd.call("logger", gen.ExtensionPluginRequest{"action": "features"}); resp.Status.Code != loggerFeatureStatus {
		t.Errorf("features: %+v, want status logs asked for", resp.Status)
	}
	cases := []struct {
		req  gen.ExtensionPluginRequest
		line string // the same input for ParseResultLog; "" for status logs
		n    int
	}{
		{gen.ExtensionPluginRequest{"string": eventLine, "category": "event"}, eventLine, 1},
		{gen.ExtensionPluginRequest{"string": batchLine}, batchLine, 3},
		{gen.ExtensionPluginRequest{"snapshot": snapshotLine}, snapshotLine, 1},
		{gen.ExtensionPluginRequest{"status": "true", "log": statusLog}, "", 2},
		{gen.ExtensionPluginRequest{"init": "osqueryd", "log": statusLog[:strings.Index(statusLog, "},{")+1] + "]"}, "", 1},
	}
	for i, c := range cases {
		resp := osqd.call("logger", c.req)
		evs := out.take()
		if resp.Status.Code != 0 || len(evs) != c.n {
			t.Errorf("case %d: %+v, %d events, want %d", i, resp.Status, len(evs), c.n)
			continue
		}
		for _, ev := range evs {
			if err := ev.Validate(); err != nil {
				t.Errorf("case %d: %v", i, err)
			}
		}
		if c.line == "" {
			continue
		}
		want, _, err := collect(t, strings.NewReader(c.line))
		if err != nil {
			t.Fatal(err)
		}
		for j := range evs {
			a, _ := json.Marshal(evs[j])
			b, _ := json.Marshal(want[j])
			if string(a) != string(b) {
				t.Errorf("case %d event %d:\n got %s\nwant %s", i, j, a, b)
			}
		}
	}
	checkStatusEvents(t, osqd, out)
	// A failing emit (a full spool) is a failure for osqueryd, which
	// sends the line again; the retry gets the same IDs.
	out.fail = errors.New("spool full")
	if resp := osqd.call("logger", gen.ExtensionPluginRequest{"string": eventLine}); resp.Status.Code == 0 || !strings.Contains(resp.Status.Message, "spool full") {
		t.Errorf("emit failure answered %+v", resp.Status)
	}
	out.fail = nil
	osqd.call("logger", gen.ExtensionPluginRequest{"string": eventLine})
	osqd.call("logger", gen.ExtensionPluginRequest{"string": eventLine}) // the same row again: a second one
	evs := out.take()
	want, _, _ := collect(t, strings.NewReader(strings.Repeat(eventLine+"\n", 3)))
	if len(evs) != 2 || evs[0].ID != want[1].ID || evs[1].ID != want[2].ID {
		t.Errorf("retried IDs %v, want those of the 2nd and 3rd parse", evs)
	}
	for _, bad := range []gen.ExtensionPluginRequest{{"string": "{not json"}, {"status": "true", "log": `[{"s":9}]`}, {"status": "true"}, {"what": "x"}} {
		if resp := osqd.call("logger", bad); resp.Status.Code == 0 {
			t.Errorf("%v accepted", bad)
		}
	}
}

func checkStatusEvents(t *testing.T, osqd *extensionClient, out *sink) {
	legacy := `{"":{"s":1,"f":"a.cpp","i":3,"m":"m1","h":"pc-1","c":"Tue Nov 14 22:13:20 2023 UTC","u":""},"":{"s":"0","f":"b.cpp","i":"4","m":"has \"\": inside","h":"pc-1","c":"","u":1700000002}}`
	resp := osqd.call("logger", gen.ExtensionPluginRequest{"status": "true", "log": legacy})
	evs := out.take()
	if resp.Status.Code != 0 || len(evs) != 2 {
		t.Fatalf("legacy status: %+v, %d events", resp.Status, len(evs))
	}
	want := []map[string]any{
		{"log.level": "warning", "osquery.severity": int64(1), "log.origin.file.name": "a.cpp", "log.origin.file.line": int64(3), "message": "m1", "host.name": "pc-1"},
		{"log.level": "info", "log.origin.file.line": int64(4), "message": `has "": inside`},
	}
	for i, ev := range evs {
		if ev.Dataset != DatasetStatus || ev.Validate() != nil {
			t.Errorf("status event %d: %+v", i, ev)
		}
		for k, v := range want[i] {
			if ev.Fields[k] != v {
				t.Errorf("status event %d: %s = %#v, want %#v", i, k, ev.Fields[k], v)
			}
		}
	}
	if evs[0].Timestamp.Unix() != 1700000000 || evs[1].Timestamp.Unix() != 1700000002 {
		t.Errorf("status times %s, %s", evs[0].Timestamp, evs[1].Timestamp)
	}
}

func checkDistributed(t *testing.T, osqd *extensionClient, x *Extension, out *sink) {
	for _, id := range []string{"q1", "q2"} {
		if err := x.Enqueue(id, "SELECT * FROM t_"+id); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Enqueue("q1", "SELECT 1"); err == nil {
		t.Error("a duplicate id was queued")
	}
	if err := x.Enqueue("bad id", "SELECT 1"); err == nil {
		t.Error("a bad id was queued")
	}
	getQueries := func() map[string]string {
		resp := osqd.call("distributed", gen.ExtensionPluginRequest{"action": "getQueries"})
		var got struct {
			Queries map[string]string `json:"queries"`
		}
		if resp.Status.Code != 0 || len(resp.Response) != 1 || json.Unmarshal([]byte(resp.Response[0]["results"]), &got) != nil {
			t.Fatalf("getQueries: %+v", resp)
		}
		return got.Queries
	}
	if got := getQueries(); len(got) != 2 || got["q1"] != "SELECT * FROM t_q1" {
		t.Fatalf("queries %v", got)
	}
	if got := getQueries(); len(got) != 0 {
		t.Errorf("queries handed out twice: %v", got)
	}
	results := `{"queries":{"q1":[{"a":"1"},{"a":"2"}],"q2":""},"statuses":{"q1":0,"q2":"1"},"messages":{"q2":"no such table: t_q2"}}`
	resp := osqd.call("distributed", gen.ExtensionPluginRequest{"action": "writeResults", "results": results})
	if resp.Status.Code != 0 {
		t.Fatalf("writeResults: %+v", resp.Status)
	}
	evs := out.take()
	if len(evs) != 4 { // two rows and a status for q1, a status for q2
		t.Fatalf("%d live events: %v", len(evs), evs)
	}
	for _, ev := range evs {
		if ev.Dataset != DatasetLive || ev.Validate() != nil || ev.Fields["agent.id"] != "agent-7" {
			t.Errorf("live event %+v", ev)
		}
	}
	if evs[1].Fields["osquery.columns.a"] != "2" || evs[2].Fields["osquery.live.rows"] != int64(2) ||
		evs[3].Fields["osquery.live.status"] != LiveError || evs[3].Fields["message"] != "no such table: t_q2" {
		t.Errorf("live events %v", evs)
	}
	var got []LiveResult
	for len(got) < 2 {
		select {
		case r := <-x.Results():
			got = append(got, r)
		case <-time.After(5 * time.Second):
			t.Fatalf("results %v", got)
		}
	}
	if got[0] != (LiveResult{ID: "q1", Status: LiveOK, Rows: 2}) || got[1].Status != LiveError {
		t.Errorf("results %+v", got)
	}
	// A failing emit keeps the results with osqueryd.
	out.fail = errors.New("spool full")
	if resp := osqd.call("distributed", gen.ExtensionPluginRequest{"action": "writeResults", "results": results}); resp.Status.Code == 0 {
		t.Error("writeResults succeeded with a failing emit")
	}
	out.fail = nil
}

// osqueryd restarting: the extension notices, says so, and registers with
// the new one.
func TestExtensionReconnects(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "osquery.em")
	mgr := newFakeManager()
	stop := serveManager(t, sock, mgr)
	var out sink
	x, err := NewExtension(testExtensionConfig(sock), out.emit, nil)
	if err != nil {
		t.Fatal(err)
	}
	startExtension(t, x)
	<-mgr.registered
	waitFor(t, "status ok", func() bool { return x.Status() == "ok" })
	stop()
	waitFor(t, "status unavailable", func() bool { return strings.HasPrefix(x.Status(), "osquery unavailable: ") })
	mgr2 := newFakeManager()
	serveManager(t, sock, mgr2)
	select {
	case <-mgr2.registered:
	case <-time.After(10 * time.Second):
		t.Fatalf("no registration with the restarted osqueryd; status %q", x.Status())
	}
	waitFor(t, "status ok again", func() bool { return x.Status() == "ok" })
}

func TestExtensionConfigValidate(t *testing.T) {
	if err := DefaultExtensionConfig().Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
	bad := ExtensionConfig{Socket: "/" + strings.Repeat("s", 120), Name: "a b", MinBackoff: time.Second, MaxBackoff: time.Millisecond}
	err := bad.Validate()
	for _, w := range []string{"socket", "name", "timeout", "ping_interval", "live_timeout", "max_backoff"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not name %s", err, w)
		}
	}
	if _, err := NewExtension(DefaultExtensionConfig(), nil, nil); err == nil {
		t.Error("NewExtension accepted a nil emit")
	}
	x, _ := NewExtension(DefaultExtensionConfig(), func(event.Event) error { return nil }, nil)
	if err := x.SetPolicy(Policy{Packs: map[string]Pack{"bad name": {}}}); err == nil {
		t.Error("a bad pack name was accepted")
	}
	if !strings.HasPrefix(x.Status(), "osquery unavailable: ") {
		t.Errorf("status before Run: %q", x.Status())
	}
}
