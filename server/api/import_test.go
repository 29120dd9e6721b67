package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/detect/winlog"
)

// sysmonProcess is a Sysmon process creation record of computer, in the
// nested form Get-WinEvent | ConvertTo-Json gives.
func sysmonProcess(t *testing.T, computer, cmdline string) event.Event {
	t.Helper()
	src := `{"Event":{"System":{"Provider":{"Name":"Microsoft-Windows-Sysmon"},"EventID":1,"EventRecordID":4242,
"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"` + computer + `","TimeCreated":{"SystemTime":"2026-03-02T08:15:00.123456Z"}},
"EventData":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"` + cmdline + `","User":"WARD1\\lan"}}}`
	var out []event.Event
	err := winlog.ReadJSON(strings.NewReader(src), func(ev event.Event, err error) error {
		if err != nil {
			return err
		}
		out = append(out, ev)
		return nil
	})
	if err != nil || len(out) != 1 {
		t.Fatalf("windows event: %v %d", err, len(out))
	}
	return out[0]
}

func (e *env) importBatch(token, unit string, evs ...event.Event) (int, wire.IngestResponse, wire.Error) {
	e.t.Helper()
	var lines [][]byte
	for _, ev := range evs {
		b, _ := json.Marshal(ev)
		lines = append(lines, b)
	}
	path := wire.PathImport
	if unit != "" {
		path += "?unit=" + unit
	}
	hdr := map[string]string{"Content-Encoding": "gzip", "Content-Type": wire.ContentTypeNDJSON, "Authorization": "Bearer " + token}
	var raw json.RawMessage
	code := e.post(e.anon, path, gz(lines), hdr, &raw)
	var r wire.IngestResponse
	var we wire.Error
	if code == 200 {
		json.Unmarshal(raw, &r)
	} else {
		json.Unmarshal(raw, &we)
	}
	return code, r, we
}

func TestImportMatchesAgentsAndUnits(t *testing.T) {
	e := newEnv(t)
	e.enroll() // pc-01, ward-1
	ctx := context.Background()
	agents, err := e.fleet.List(ctx, nil)
	if err != nil || len(agents) != 1 {
		t.Fatalf("agents: %v %d", err, len(agents))
	}
	a := agents[0]
	analyst, _ := e.tokens.Issue(ctx, Token{Name: "soc-ward1", Role: RoleAnalyst, Unit: "ward-1"})
	responder, _ := e.tokens.Issue(ctx, Token{Name: "ward2", Role: RoleResponder, Unit: "ward-2"})

	// The agent's PC, by its fully qualified name in other case; the
	// unit the file claims is not kept.
	mine := sysmonProcess(t, "PC-01.ward1.local", "whoami")
	mine.Set("lachan.unit", "ward-2")
	mine.Set("agent.id", "forged")
	code, r, we := e.importBatch(analyst, "", mine)
	if code != 200 || r.Received != 1 || r.Stored != 1 {
		t.Fatalf("import of the agent's PC: %d %+v %+v", code, r, we)
	}
	got, _ := e.st.GetEvents(ctx, []string{mine.ID})
	if len(got) != 1 {
		t.Fatalf("imported event not stored under its ID %s", mine.ID)
	}
	ev := got[0]
	for f, want := range map[string]string{"agent.id": a.ID, "host.id": a.ID, "host.name": "pc-01", "lachan.unit": "ward-1"} {
		if ev.String(f) != want {
			t.Errorf("%s = %q, want %q", f, ev.String(f), want)
		}
	}
	if ips := ev.Strings("host.ip"); len(ips) != 1 || ips[0] != "10.9.8.7" {
		t.Errorf("host.ip = %v", ips)
	}

	// A PC without an agent: refused without a unit, naming it.
	kiosk := sysmonProcess(t, "KIOSK-7", "ipconfig")
	code, _, we = e.importBatch(e.admin, "", kiosk, mine)
	if code != 400 || !strings.Contains(we.Error, "KIOSK-7") || !strings.Contains(we.Error, "--unit") {
		t.Fatalf("unknown computer without a unit: %d %+v", code, we)
	}
	code, r, we = e.importBatch(e.admin, "ward-2", kiosk, mine)
	if code != 200 || r.Stored != 1 || r.Duplicates != 1 {
		t.Fatalf("unknown computer with a unit: %d %+v %+v", code, r, we)
	}
	got, _ = e.st.GetEvents(ctx, []string{kiosk.ID})
	if len(got) != 1 || got[0].String("lachan.unit") != "ward-2" || got[0].String("host.name") != "KIOSK-7" ||
		got[0].String("host.id") != ImportedHostID("ward-2", "kiosk-7") || got[0].String("agent.id") != "" {
		t.Fatalf("PC without an agent: %+v", got)
	}

	// Again: nothing new.
	if code, r, we = e.importBatch(e.admin, "ward-2", kiosk, mine); code != 200 || r.Stored != 0 || r.Duplicates != 2 {
		t.Fatalf("re-import: %d %+v %+v", code, r, we)
	}

	// Only Windows events.
	yara := event.New(event.DatasetYARA, mine.Timestamp)
	yara.Set("file.path", "/tmp/x")
	if code, _, we = e.importBatch(e.admin, "ward-2", mine, yara); code != 400 || we.Line != 2 || we.Field != event.FieldDataset ||
		!strings.Contains(we.Error, event.DatasetYARA) {
		t.Fatalf("non-Windows event: %d %+v", code, we)
	}

	// Scope: an analyst of ward 1 neither imports into ward 2 nor finds
	// ward 2's agents; a responder may not import at all.
	other := sysmonProcess(t, "KIOSK-8", "ipconfig")
	if code, _, we = e.importBatch(analyst, "ward-2", other); code != 404 {
		t.Fatalf("analyst of ward 1 importing into ward 2: %d %+v", code, we)
	}
	if code, _, we = e.importBatch(analyst, "no-such-unit", other); code != 404 {
		t.Fatalf("import into an unknown unit: %d %+v", code, we)
	}
	if code, _, we = e.importBatch(responder, "ward-2", other); code != 403 || !strings.Contains(we.Error, string(PermImport)) {
		t.Fatalf("responder importing: %d %+v", code, we)
	}
	wardTwo, _ := e.tokens.Issue(ctx, Token{Name: "soc-ward2", Role: RoleAnalyst, Unit: "ward-2"})
	if code, _, we = e.importBatch(wardTwo, "", mine); code != 400 || !strings.Contains(we.Error, "PC-01") {
		t.Fatalf("analyst of ward 2 importing ward 1's PC: %d %+v", code, we)
	}
}
