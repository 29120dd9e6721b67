package osqtelemetry

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/agent/osquery"
	"lachan/detections"
	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/server/detect"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/pipeline"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/test/shareddata"
)

// processEventsLine is one row of the agent's telemetry pack's
// process_events query as osqueryd writes it to its result log (the event
// format of osquery's logging documentation: name, hostIdentifier,
// calendarTime, unixTime, epoch, counter, numerics, columns, action).
const processEventsLine = `{"name":"pack_lachan-telemetry_process_events","hostIdentifier":"pc-01","calendarTime":"Thu Dec  3 12:00:00 2026 UTC","unixTime":1796299200,"epoch":0,"counter":3,"numerics":false,"columns":{"auid":"1000","cmdline":"/bin/sh -c echo ZWNobyBoaQ== | base64 -d | sh","cwd":"/home/lan","euid":"1000","eid":"7734","parent":"4100","parent_cmdline":"bash","parent_path":"/usr/bin/bash","path":"/usr/bin/dash","pid":"4242","syscall":"execve","time":"1796299199","uid":"1000","username":"lan"},"action":"added"}`

// nativeEvent is the linux.process event agent/telemetry makes of the
// same execution (its fields as execInfo.event sets them).
func nativeEvent() event.Event {
	ev := event.New("linux.process", time.Unix(1796299199, 0))
	for k, v := range map[string]any{
		"event.kind": "event", "event.category": "process", "event.type": "start", "event.action": "exec",
		"process.pid": int64(4242), "process.executable": "/usr/bin/dash", "process.name": "dash",
		"process.command_line": "/bin/sh -c echo ZWNobyBoaQ== | base64 -d | sh", "process.working_directory": "/home/lan",
		"user.id": "1000", "process.user.id": "1000", "user.name": "lan", "user.audit.id": "1000",
		"process.parent.pid": int64(4100), "process.parent.executable": "/usr/bin/bash", "process.parent.command_line": "bash",
	} {
		ev.Set(k, v)
	}
	return ev
}

// TestOsqueryProcessEventsFireLikeNative: the same Sigma rules fire, with
// the same process, parent and user in the alert, whether the execution
// came from the process-events connector or from osquery's
// process_events. Rules: the platform's default detections and every
// SigmaHQ Linux rule.
func TestOsqueryProcessEventsFireLikeNative(t *testing.T) {
	var rows []event.Event
	if _, err := osquery.ParseResultLog(strings.NewReader(processEventsLine+"\n"), func(ev event.Event) error {
		rows = append(rows, ev)
		return nil
	}); err != nil || len(rows) != 1 {
		t.Fatalf("result log: %d rows, %v", len(rows), err)
	}
	sources, err := detect.LoadLogSources(detections.FS, detections.LogSourcesFile)
	if err != nil {
		t.Fatal(err)
	}
	sigmahq := filepath.Join(shareddata.Dir(t), "sigma", "sigmahq", "rules", "linux")
	for _, set := range []struct {
		name string
		fsys func() (*detect.Engine, []error)
	}{
		{"default detections", func() (*detect.Engine, []error) { return detect.Load(detections.FS, ".", sources) }},
		{"SigmaHQ rules/linux", func() (*detect.Engine, []error) { return detect.Load(os.DirFS(sigmahq), ".", sources) }},
	} {
		t.Run(set.name, func(t *testing.T) {
			eng, _ := set.fsys()
			if len(eng.Rules()) == 0 {
				t.Fatal("no rules loaded")
			}
			native := ingest(t, eng, nativeEvent())
			viaOsquery := ingest(t, eng, rows[0])
			if len(native) == 0 || !slices.Contains(ruleIDs(native), "ba592c6d-6888-43c3-b8c6-689b8fe47337") {
				t.Fatalf("the native event raised %v, not the base64-to-shell rule", ruleIDs(native))
			}
			if got, want := ruleIDs(viaOsquery), ruleIDs(native); !slices.Equal(got, want) {
				t.Fatalf("osquery row raised %v, native event %v", got, want)
			}
			for _, f := range []string{"process.executable", "process.command_line", "process.pid", "process.parent.pid",
				"process.parent.executable", "user.name", "host.name"} {
				if a, b := viaOsquery[0].Fields[f], native[0].Fields[f]; a != b || a == nil {
					t.Errorf("alert %s: osquery %v, native %v", f, a, b)
				}
			}
		})
	}
}

// ingest runs one event through the agent ingest path of the pipeline
// and returns the alerts stored.
func ingest(t *testing.T, eng *detect.Engine, ev event.Event) []event.Event {
	t.Helper()
	ctx := context.Background()
	st := embeddedtest.Open(t)
	fl := fleet.New(st, nil)
	inc := incident.NewManager(st, incident.DefaultConfig(), nil)
	det := pipeline.DetectorFunc(func(ev event.Event) []event.Event {
		var out []event.Event
		for _, m := range eng.Match(ev) {
			out = append(out, m.Alert(ev))
		}
		return out
	})
	p := pipeline.New(st, fl, inc, det, logging.Discard())
	a := fleet.Agent{ID: "agent-1", Unit: "ward-1", Host: wire.Host{Name: "pc-01", OS: "linux Debian 12", IPs: []string{"10.9.8.7"}}}
	if _, err := p.IngestAgent(ctx, a, []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	page, err := st.SearchEvents(ctx, store.Query{Datasets: []string{event.DatasetAlert}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(page.Events, func(a, b event.Event) int { return strings.Compare(a.String("rule.id"), b.String("rule.id")) })
	return page.Events
}

func ruleIDs(alerts []event.Event) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.String("rule.id"))
	}
	return out
}
