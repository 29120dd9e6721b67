package correlate

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
)

// The rules of the specification's examples, with the base rules the
// examples refer to written out (the specification leaves them to the
// reader) and the correlation documents as the specification gives them.
const (
	failedLogin = `title: Single failed login
id: 5638f7c0-ac70-491d-8465-2a65075e0d86
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
`
	eventCountSpec = `title: Many failed logins
id: 0e95725d-7320-415d-80f7-004da920fc11
correlation:
    type: event_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
    timespan: 1h
    condition:
        gte: 100
`
	valueCountSpec = `title: Failed login
id: 0e95725d-7320-415d-80f7-004da920fc12
correlation:
    type: value_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
        - WorkstationName
    timespan: 1d
    condition:
        field: User
        gte: 100
`
	reconRules = `title: Recon A
id: 11111111-0000-4000-8000-00000000000a
name: recon_cmd_a
logsource: {product: windows, service: security}
detection: {selection: {CommandLine: whoami}, condition: selection}
---
title: Recon B
id: 11111111-0000-4000-8000-00000000000b
name: recon_cmd_b
logsource: {product: windows, service: security}
detection: {selection: {CommandLine: hostname}, condition: selection}
---
title: Recon C
id: 11111111-0000-4000-8000-00000000000c
name: recon_cmd_c
logsource: {product: windows, service: security}
detection: {selection: {CommandLine: ipconfig}, condition: selection}
`
	temporalSpec = `title: Recon
correlation:
    type: temporal
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
`
	temporalOrderedSpec = `title: Recon ordered
correlation:
    type: temporal_ordered
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
`
	aliasesSpec = `title: Internal error
id: 22222222-0000-4000-8000-000000000001
name: internal_error
logsource: {product: test}
detection:
    selection:
        http.response.status_code: 500
    condition: selection
---
title: New connection
id: 22222222-0000-4000-8000-000000000002
name: new_network_connection
logsource: {product: test}
detection:
    selection:
        event.category: network
        event.type: connection
        event.outcome: success
    condition: selection
---
title: Error then connection back
id: 22222222-0000-4000-8000-000000000003
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
`
	bruteForceSpec = `title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
`
)

func winEv(at time.Duration, kv ...any) event.Event { return ev("windows.security", at, kv...) }

func failures(n int, every time.Duration, kv ...any) []event.Event {
	var out []event.Event
	for i := 0; i < n; i++ {
		out = append(out, winEv(time.Duration(i)*every, append([]any{"EventID", int64(4625)}, kv...)...))
	}
	return out
}

func users(n int, every time.Duration) []event.Event {
	var out []event.Event
	for i := 0; i < n; i++ {
		out = append(out, winEv(time.Duration(i)*every, "EventID", int64(4625), "ComputerName", "dc01", "WorkstationName", "ws7", "User", fmt.Sprintf("user%03d", i)))
	}
	return out
}

func recon(at time.Duration, cmd, host, user string) event.Event {
	return winEv(at, "CommandLine", cmd, "ComputerName", host, "User", user)
}

// TestSpecificationExamples runs each correlation example of the Sigma
// correlation specification over events that must fire it and events that
// must not.
func TestSpecificationExamples(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		rule   string
		events []event.Event
		want   int // alerts of rule
		size   int // events grouped by the first alert
	}{
		{"event_count: 100 failures on one host in an hour", map[string]string{"a.yml": failedLogin, "b.yml": eventCountSpec}, "0e95725d-7320-415d-80f7-004da920fc11",
			failures(100, 30*time.Second, "ComputerName", "dc01"), 1, 100},
		{"event_count: 99 failures", map[string]string{"a.yml": failedLogin, "b.yml": eventCountSpec}, "0e95725d-7320-415d-80f7-004da920fc11",
			failures(99, 30*time.Second, "ComputerName", "dc01"), 0, 0},
		{"event_count: 100 failures over two hours", map[string]string{"a.yml": failedLogin, "b.yml": eventCountSpec}, "0e95725d-7320-415d-80f7-004da920fc11",
			failures(100, 72*time.Second, "ComputerName", "dc01"), 0, 0},
		{"event_count: 50 failures on each of two hosts", map[string]string{"a.yml": failedLogin, "b.yml": eventCountSpec}, "0e95725d-7320-415d-80f7-004da920fc11",
			append(failures(50, time.Second, "ComputerName", "dc01"), failures(50, time.Second, "ComputerName", "dc02")...), 0, 0},
		{"value_count: 100 users from one workstation", map[string]string{"a.yml": failedLogin, "b.yml": valueCountSpec}, "0e95725d-7320-415d-80f7-004da920fc12",
			users(100, time.Minute), 1, 100},
		{"value_count: 150 failures of one user", map[string]string{"a.yml": failedLogin, "b.yml": valueCountSpec}, "0e95725d-7320-415d-80f7-004da920fc12",
			failures(150, time.Second, "ComputerName", "dc01", "WorkstationName", "ws7", "User", "an"), 0, 0},
		{"temporal: three recon commands in any order", map[string]string{"c.yml": reconRules + "---\n" + temporalSpec}, "",
			[]event.Event{recon(0, "ipconfig", "pc1", "an"), recon(time.Minute, "whoami", "pc1", "an"), recon(4*time.Minute, "hostname", "pc1", "an")}, 1, 3},
		{"temporal: one command by another user", map[string]string{"c.yml": reconRules + "---\n" + temporalSpec}, "",
			[]event.Event{recon(0, "ipconfig", "pc1", "an"), recon(time.Minute, "whoami", "pc1", "an"), recon(2*time.Minute, "hostname", "pc1", "binh")}, 0, 0},
		{"temporal: spread over six minutes", map[string]string{"c.yml": reconRules + "---\n" + temporalSpec}, "",
			[]event.Event{recon(0, "ipconfig", "pc1", "an"), recon(time.Minute, "whoami", "pc1", "an"), recon(6*time.Minute, "hostname", "pc1", "an")}, 0, 0},
		{"temporal_ordered: in order", map[string]string{"c.yml": reconRules + "---\n" + temporalOrderedSpec}, "",
			[]event.Event{recon(0, "whoami", "pc1", "an"), recon(time.Minute, "hostname", "pc1", "an"), recon(2*time.Minute, "ipconfig", "pc1", "an")}, 1, 3},
		{"temporal_ordered: out of order", map[string]string{"c.yml": reconRules + "---\n" + temporalOrderedSpec}, "",
			[]event.Event{recon(0, "ipconfig", "pc1", "an"), recon(time.Minute, "whoami", "pc1", "an"), recon(2*time.Minute, "hostname", "pc1", "an")}, 0, 0},
		{"aliases: error then a connection back", map[string]string{"x.yml": aliasesSpec}, "22222222-0000-4000-8000-000000000003",
			[]event.Event{
				ev("test.events", 0, "http.response.status_code", int64(500), "source.ip", "198.51.100.9", "destination.ip", "10.0.0.5"),
				ev("test.events", 5*time.Second, "event.category", "network", "event.type", "connection", "event.outcome", "success", "source.ip", "10.0.0.5", "destination.ip", "198.51.100.9"),
			}, 1, 2},
		{"aliases: a connection the other way", map[string]string{"x.yml": aliasesSpec}, "22222222-0000-4000-8000-000000000003",
			[]event.Event{
				ev("test.events", 0, "http.response.status_code", int64(500), "source.ip", "198.51.100.9", "destination.ip", "10.0.0.5"),
				ev("test.events", 5*time.Second, "event.category", "network", "event.type", "connection", "event.outcome", "success", "source.ip", "198.51.100.9", "destination.ip", "10.0.0.5"),
			}, 0, 0},
		{"chain: ten failures then a success", map[string]string{"m.yml": bruteForceSpec}, "b180ead8-d58f-40b2-ae54-c8940995b9b6",
			append(failures(10, 10*time.Second, "User", "an"), winEv(3*time.Minute, "EventID", int64(4624), "User", "an")), 1, 2},
		{"chain: a success before the failures", map[string]string{"m.yml": bruteForceSpec}, "b180ead8-d58f-40b2-ae54-c8940995b9b6",
			append([]event.Event{winEv(-time.Minute, "EventID", int64(4624), "User", "an")}, failures(10, 10*time.Second, "User", "an")...), 0, 0},
		{"chain: nine failures then a success", map[string]string{"m.yml": bruteForceSpec}, "b180ead8-d58f-40b2-ae54-c8940995b9b6",
			append(failures(9, 10*time.Second, "User", "an"), winEv(3*time.Minute, "EventID", int64(4624), "User", "an")), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.files, nil, DefaultConfig())
			rule := tt.rule
			if rule == "" {
				rule = r.set.Rules()[0].ID
			}
			got := fired(r.feed(t, tt.events...), rule)
			got = append(got, fired(r.c.Flush(), rule)...)
			if len(got) != tt.want {
				t.Fatalf("%d alerts of %s, want %d", len(got), rule, tt.want)
			}
			if tt.want == 0 {
				return
			}
			if n := len(got[0].Strings("lachan.alert.source_ids")); n != tt.size {
				t.Errorf("alert groups %d events, want %d", n, tt.size)
			}
		})
	}
}

// TestGroupFieldsAndEvents checks what a correlation alert carries.
func TestGroupFieldsAndEvents(t *testing.T) {
	r := newRig(t, map[string]string{"c.yml": reconRules + "---\n" + temporalSpec}, nil, DefaultConfig())
	evs := []event.Event{recon(0, "whoami", "pc1", "an"), recon(time.Minute, "hostname", "pc1", "an"), recon(2*time.Minute, "ipconfig", "pc1", "an")}
	evs[0].Set("host.id", "agent-7")
	evs[0].Set("lachan.unit", "phuong-1")
	got := r.feed(t, evs...)
	if len(got) != 1 {
		t.Fatalf("got %d alerts, want only the correlation's (base alerts are not generated)", len(got))
	}
	a := got[0]
	checks := map[string]string{"event.dataset": event.DatasetAlert, "ComputerName": "pc1", "User": "an", "host.id": "agent-7",
		"lachan.unit": "phuong-1", "rule.name": "Recon", "rule.level": "medium", "lachan.correlation.type": "temporal"}
	for f, want := range checks {
		if got := a.String(f); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	if got := a.Strings("lachan.alert.source_ids"); !slices.Equal(got, ids) {
		t.Errorf("source_ids = %v, want %v", got, ids)
	}
	list, _ := a.Get("lachan.correlation.events")
	if l, ok := list.([]any); !ok || len(l) != 3 {
		t.Fatalf("lachan.correlation.events = %v", list)
	}
	if !a.Timestamp.Equal(evs[2].Timestamp) {
		t.Errorf("alert time %v, want the last event's %v", a.Timestamp, evs[2].Timestamp)
	}
	// The same events again (a retried batch) fire the same alert ID.
	r2 := newRig(t, map[string]string{"c.yml": reconRules + "---\n" + temporalSpec}, nil, DefaultConfig())
	if again := r2.feed(t, evs...); len(again) != 1 || again[0].ID != a.ID {
		t.Errorf("replay gave %v, want alert %s", again, a.ID)
	}
}
