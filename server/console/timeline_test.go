package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/incident"
)

// TestIncidentTimeline: the incident page's timeline shows each kind of
// evidence with the fields an analyst reads first — the YARA finding,
// the process with its parent, the flow, DNS, TLS and HTTP records with
// their Community ID — and the header the ATT&CK tactic and technique
// of the alert.
func TestIncidentTimeline(t *testing.T) {
	e := newEnv(t)
	at := time.Now().Add(-5 * time.Minute)
	const cid = "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
	mk := func(ds string, fields map[string]any) event.Event {
		ev := event.New(ds, at)
		ev.ID = event.DeriveID("timeline", ds)
		ev.Set("host.id", "pc-7")
		ev.Set("lachan.unit", "ward-1")
		for k, v := range fields {
			ev.Set(k, v)
		}
		at = at.Add(time.Second)
		return ev
	}
	evs := []event.Event{
		mk(event.DatasetYARA, map[string]any{"yara.rule": "SUSP_Dropper", "file.path": `C:\Users\a\dl.exe`}),
		mk("osquery.processes", map[string]any{"process.name": "powershell.exe", "process.command_line": "powershell -enc SQBFAFgA",
			"process.parent.name": "winword.exe", "osquery.name": "processes"}),
		mk("network.flow", map[string]any{"source.ip": "10.0.0.7", "destination.ip": "203.0.113.5", "destination.port": 443,
			"network.transport": "tcp", "network.community_id": cid}),
		mk("network.dns", map[string]any{"dns.question.name": "c2.example.net", "source.ip": "10.0.0.7", "network.community_id": cid}),
		mk("network.tls", map[string]any{"tls.client.server_name": "c2.example.net", "tls.version": "1.3", "destination.ip": "203.0.113.5",
			"network.community_id": cid}),
		mk("network.http", map[string]any{"http.request.method": "POST", "url.domain": "c2.example.net", "url.path": "/beacon",
			"destination.ip": "203.0.113.5", "network.community_id": cid}),
	}
	ctx := context.Background()
	if _, err := e.st.PutEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	al := event.New(event.DatasetAlert, at)
	al.ID = event.DeriveID("alert", "timeline")
	al.Set("host.id", "pc-7")
	al.Set("rule.id", "r-drop")
	al.Set("rule.name", "Office spawns PowerShell")
	al.Set("rule.level", "high")
	al.Set("threat.tactic.name", "Execution")
	al.Set("threat.technique.id", "T1059.001")
	al.Set("lachan.unit", "ward-1")
	al.Set("lachan.alert.source_ids", ids)
	if _, err := e.st.PutEvents(ctx, []event.Event{al}); err != nil {
		t.Fatal(err)
	}
	inc, err := incident.NewManager(e.st, incident.DefaultConfig(), nil).Raise(ctx, []event.Event{al})
	if err != nil || len(inc) != 1 {
		t.Fatalf("raise: %v %v", inc, err)
	}
	a := e.addUser("lan", "analyst")
	b := e.browser()
	b.login("lan", a.Password, "mật-khẩu-rất-dài-t1")
	p := b.get("/incidents/" + inc[0])
	if p.StatusCode != 200 {
		t.Fatalf("incident page: %d\n%s", p.StatusCode, p.Body)
	}
	_, tl, _ := strings.Cut(p.Body, `id="timeline"`)
	// html/template writes + as a character reference.
	shown := strings.ReplaceAll(cid, "+", "&#43;")
	for _, want := range []string{`class="k-yara"`, "SUSP_Dropper", `class="k-process"`, "powershell -enc SQBFAFgA", "process.parent.name", "winword.exe",
		`class="k-flow"`, `class="k-dns"`, "c2.example.net", `class="k-tls"`, `class="k-http"`, "/beacon", "network.community_id", shown} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %s", want)
		}
	}
	if n := strings.Count(tl, shown); n != 4 {
		t.Errorf("the Community ID shows %d times in the timeline, want 4 (flow, DNS, TLS, HTTP)", n)
	}
	if strings.Contains(tl, `class="packets"`) {
		t.Errorf("a packets link without a capture directory")
	}
	head, _, _ := strings.Cut(p.Body, `id="timeline"`)
	if !strings.Contains(head, "Execution") || !strings.Contains(head, "T1059.001") {
		t.Errorf("the header lacks the ATT&CK tactic or technique")
	}
}
