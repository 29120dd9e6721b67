package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/server/incident"
)

const evilHost = "pc\x1b[2J\rEVIL\u202e"

// rawControl returns the first rune of s a terminal would act on, if any;
// the table's own newlines are allowed.
func rawControl(s string) (rune, bool) {
	for _, r := range s {
		if r != '\n' && escapedRune(r) {
			return r, true
		}
	}
	return 0, false
}

func TestVisible(t *testing.T) {
	tests := []struct{ in, want string }{
		{evilHost, `pc\x1b[2J\rEVIL\u202e`},
		{"máy-trạm Phòng Kế toán", "máy-trạm Phòng Kế toán"},
		{`C:\Users\an`, `C:\Users\an`},
		{"a\tb\nc\x07d\x7fe", `a\tb\nc\x07d\x7fe`},
		{"csi\u009b2J bidi\u202a\u202d\u2066\u2069", `csi\u009b2J bidi\u202a\u202d\u2066\u2069`},
		{"bad\xffutf8", `bad\xffutf8`},
	}
	for _, tt := range tests {
		if got := visible(tt.in); got != tt.want {
			t.Errorf("visible(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTextOutputEscapesAgentData(t *testing.T) {
	ev := event.New(event.DatasetAlert, time.Now())
	ev.Set("host.name", evilHost)
	ev.Set("rule.name", "Rule\x1b]0;title\x07")
	ev.Set("rule.level", "high")
	agents := agentList{Agents: []fleet.Agent{{ID: "a1", Host: wire.Host{Name: evilHost, OS: "Windows\r\n"}}}}
	det := incident.Detail{Incident: incident.Incident{ID: "i1", Title: "T — " + evilHost, Host: incident.Host{ID: "a1", Name: evilHost}},
		Evidence: []event.Event{ev}}
	outputs := []struct {
		name  string
		print func(*bytes.Buffer) error
	}{
		{"agents", func(b *bytes.Buffer) error { return table(b, agentsHeader, agentRows(agents)) }},
		{"events", func(b *bytes.Buffer) error {
			return table(b, eventsHeader, eventRows(api.EventsPage{Events: []event.Event{ev}}))
		}},
		{"incident show", func(b *bytes.Buffer) error { return printIncident(b, det) }},
	}
	for _, o := range outputs {
		var b bytes.Buffer
		if err := o.print(&b); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if r, ok := rawControl(b.String()); ok {
			t.Errorf("%s prints %U raw:\n%q", o.name, r, b.String())
		}
		if !strings.Contains(b.String(), `pc\x1b[2J\rEVIL\u202e`) {
			t.Errorf("%s does not show the host name escaped:\n%s", o.name, b.String())
		}
	}
}

func TestJSONOutputEscapesBidi(t *testing.T) {
	agents := agentList{Agents: []fleet.Agent{{ID: "a1", Host: wire.Host{Name: evilHost + "\u0085\x7f"}}}}
	var b bytes.Buffer
	if err := printJSON(&b, agents); err != nil {
		t.Fatal(err)
	}
	if r, ok := rawControl(b.String()); ok {
		t.Fatalf("--json prints %U raw: %q", r, b.String())
	}
	var back agentList
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("--json output does not decode: %v", err)
	}
	if got := back.Agents[0].Host.Name; got != evilHost+"\u0085\x7f" {
		t.Fatalf("--json host name decodes to %q", got)
	}
}

// TestJSONSafeEveryPosition puts each rune jsonSafe escapes, and bytes
// next to them that it leaves, at every offset of a line, so that the
// word-at-a-time scan meets them in every byte of a word.
func TestJSONSafeEveryPosition(t *testing.T) {
	for _, r := range []string{"\x7f", "\u0085", "\u202e", "\u2066", "é", "~", "\u00ff"} {
		for at := 0; at < 150; at++ { // past two 64-byte steps
			line := `{"a":"` + strings.Repeat("x", at) + r + `~"}`
			var got bytes.Buffer
			if err := jsonSafe(&got, []byte(line)); err != nil {
				t.Fatal(err)
			}
			want := line
			switch r {
			case "\x7f":
				want = strings.Replace(line, r, `\u007f`, 1)
			case "\u0085":
				want = strings.Replace(line, r, `\u0085`, 1)
			case "\u202e":
				want = strings.Replace(line, r, `\u202e`, 1)
			case "\u2066":
				want = strings.Replace(line, r, `\u2066`, 1)
			}
			if got.String() != want {
				t.Errorf("%q at %d: got %q, want %q", r, at, got.String(), want)
			}
		}
	}
}
