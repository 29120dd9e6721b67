package osquery

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/plugin/distributed"

	"lachan/internal/event"
)

// TestLoggerMsticpyLogs sends every line of the real osqueryd logs through
// the logger plugin as osqueryd would (results as "string", snapshots as
// "snapshot") and expects what ParseResultLog makes of the same files.
func TestLoggerMsticpyLogs(t *testing.T) {
	dir := filepath.Join(sharedData(t), "osquery", "msticpy")
	var out sink
	p := newLoggerPlugin(DefaultExtensionName, out.emit)
	var all bytes.Buffer
	lines := 0
	for _, f := range []struct{ file, key string }{{"osqueryd.results.log", "string"}, {"osqueryd.snapshots.log", "snapshot"}} {
		b, err := os.ReadFile(filepath.Join(dir, f.file))
		if err != nil {
			t.Skipf("msticpy logs missing: %v", err)
		}
		all.Write(b)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, MaxLogLine)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			lines++
			if resp := p.Call(context.Background(), gen.ExtensionPluginRequest{f.key: sc.Text()}); resp.Status.Code != 0 {
				t.Fatalf("%s line %d: %+v", f.file, lines, resp.Status)
			}
		}
	}
	evs := out.take()
	names := map[string]bool{}
	actions := map[any]int{}
	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Errorf("invalid event %+v: %v", ev, err)
		}
		names[ev.String("osquery.name")] = true
		actions[ev.Fields["osquery.action"]]++
	}
	if lines != 309 || len(evs) != 309 || len(names) != 21 {
		t.Fatalf("%d lines, %d events, %d names; want 309, 309, 21", lines, len(evs), len(names))
	}
	if actions["added"] != 137 || actions["removed"] != 129 || actions["snapshot"] != 43 {
		t.Errorf("actions %v", actions)
	}
	want, _, err := collect(t, &all)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if evs[i].ID != want[i].ID {
			t.Fatalf("event %d: ID %s, ParseResultLog gave %s", i, evs[i].ID, want[i].ID)
		}
	}
}

func TestLiveTimeout(t *testing.T) {
	var out sink
	cfg := DefaultExtensionConfig()
	cfg.LiveTimeout = time.Minute
	q := newLiveQueue(cfg, out.emit, nil)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	q.now = func() time.Time { return at }
	for _, id := range []string{"waiting", "sent"} {
		if err := q.enqueue(id, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	q.queries["sent"].sent = true
	q.expire()
	if len(out.take()) != 0 || len(q.results) != 0 {
		t.Fatal("queries expired before their deadline")
	}
	at = at.Add(2 * time.Minute)
	q.expire()
	evs := out.take()
	if len(evs) != 2 || evs[0].Fields["osquery.live.status"] != LiveTimeout || evs[0].Fields["osquery.live.id"] != "sent" {
		t.Fatalf("timeout events %v", evs)
	}
	got := []LiveResult{<-q.results, <-q.results}
	if got[0].ID != "sent" || got[0].Status != LiveTimeout || !strings.Contains(got[1].Message, "pick") {
		t.Errorf("results %+v", got)
	}
	if len(q.queries) != 0 {
		t.Errorf("expired queries kept: %v", q.queries)
	}
	for i := range maxLiveQueued + 1 {
		err := q.enqueue("q"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26)), "SELECT 1")
		if (err != nil) != (i == maxLiveQueued) {
			t.Fatalf("enqueue %d: %v", i, err)
		}
	}
}

func FuzzLoggerCall(f *testing.F) {
	f.Add("string", eventLine, "")
	f.Add("string", batchLine+"\n"+eventLine, "")
	f.Add("snapshot", snapshotLine, "")
	f.Add("status", "true", statusLog)
	f.Add("init", "osqueryd", `{"":{"s":1,"f":"a","i":"3","m":"m","h":"h","c":"","u":5}}`)
	f.Add("event", `{"name":"x"}`, "")
	f.Add("action", "features", "")
	f.Fuzz(func(t *testing.T, key, value, log string) {
		req := gen.ExtensionPluginRequest{key: value}
		if log != "" {
			req["log"] = log
		}
		n := 0
		p := newLoggerPlugin(DefaultExtensionName, func(ev event.Event) error {
			n++
			if err := ev.Validate(); err != nil {
				t.Fatalf("invalid event: %v\n%+v", err, ev)
			}
			return nil
		})
		resp := p.Call(context.Background(), req)
		if resp.Status == nil {
			t.Fatal("no status")
		}
		if resp.Status.Code != 0 && n > 0 && key != "action" {
			t.Fatalf("status %+v after %d events", resp.Status, n)
		}
	})
}

func FuzzDistributedWriteResults(f *testing.F) {
	f.Add(`{"queries":{"q1":[{"a":"1"}],"q2":""},"statuses":{"q1":0,"q2":"1"},"messages":{"q2":"no such table"}}`)
	f.Add(`{"queries":{"q.1":[{"":""}]},"statuses":{"q.1":"7"}}`)
	f.Add(`{"statuses":{"x":1}}`)
	f.Fuzz(func(t *testing.T, results string) {
		q := newLiveQueue(DefaultExtensionConfig(), func(ev event.Event) error {
			if err := ev.Validate(); err != nil {
				t.Fatalf("invalid event: %v\n%+v", err, ev)
			}
			return nil
		}, nil)
		p := distributed.NewPlugin(DefaultExtensionName, q.getQueries, q.writeResults)
		resp := p.Call(context.Background(), gen.ExtensionPluginRequest{"action": "writeResults", "results": results})
		if resp.Status == nil {
			t.Fatal("no status")
		}
	})
}
