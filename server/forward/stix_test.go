package forward

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/incident"
	"lachan/server/mask"
)

func TestUUID5MatchesRFC(t *testing.T) {
	// Reference values from another implementation of RFC 9562 v5.
	if got := uuid5(namespace, "incident|abc"); got != "2c790cbc-81e8-5cba-aa6d-625c358d0333" {
		t.Errorf("uuid5 = %s", got)
	}
	if got := uuid5(stixNamespace, `{"value":"203.0.113.9"}`); got != "39090fdc-366e-571f-ab5b-d05e2918f88f" {
		t.Errorf("uuid5 = %s", got)
	}
}

var t0 = time.Date(2025, 6, 2, 8, 30, 0, 0, time.UTC)

func sampleIncident() (incident.Incident, []event.Event) {
	inc := incident.Incident{
		ID: "0f3c9a1e2b4d5f60718293a4b5c6d7e8", Title: "EICAR test file — Nguyễn Văn An (pc-ke-toan-01)",
		Severity: "high", Status: "open", Unit: "phuong-ben-thanh",
		Host:    incident.Host{ID: "agent-1", Name: "pc-ke-toan-01", IPs: []string{"10.10.1.25"}},
		Rule:    incident.Rule{ID: "yara-eicar", Name: "EICAR test file"},
		Created: t0, Updated: t0.Add(time.Minute), FirstSeen: t0, LastSeen: t0.Add(time.Minute), AlertCount: 2,
	}
	ev := event.New(event.DatasetYARA, t0)
	ev.ID = "1111aaaa2222bbbb3333cccc4444dddd"
	ev.Set("user.name", "nva")
	ev.Set("user.full_name", "Nguyễn Văn An")
	ev.Set("user.email", "an.nguyen@benthanh.gov.vn")
	ev.Set("file.path", `C:\Users\nva\Desktop\CCCD 079203001234 Trần Thị Bích Ngọc.txt`)
	ev.Set("file.hash.sha256", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f")
	dns := event.New(event.DatasetDNS, t0)
	dns.ID = "5555eeee6666ffff7777000088881111"
	dns.Set("source.ip", "10.10.1.25")
	dns.Set("destination.ip", "203.0.113.9")
	dns.Set("dns.question.name", "evil.example")
	dns.Set("message", "liên hệ 0912 345 678")
	// The alert names the same file as the finding: one file observable.
	al := event.New(event.DatasetAlert, t0)
	al.ID = "9999aaaa2222bbbb3333cccc4444dddd"
	al.Set("file.hash.sha256", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f")
	return inc, []event.Event{ev, dns, al}
}

func testMasker(t testing.TB) *mask.Masker {
	m, err := mask.New(mask.DefaultPolicy(), []byte("forward-test-key-0123456789"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIncidentBundle(t *testing.T) {
	inc, evs := sampleIncident()
	m := testMasker(t)
	r := Reporter{Sender: "phuong-ben-thanh", Unit: "phuong-ben-thanh", UnitName: "Phường Bến Thành"}
	b := IncidentBundle(inc, evs, 7, inc.Updated, r, m.Session())
	raw, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Encode(IncidentBundle(inc, evs, 7, inc.Updated, r, m.Session()))
	if !bytes.Equal(raw, again) {
		t.Fatal("the same revision built two different bundles")
	}
	objs, err := ParseEnvelope(raw)
	if err != nil {
		t.Fatalf("own bundle does not validate: %v", err)
	}
	types := map[string]int{}
	for _, o := range objs {
		types[o.String("type")]++
	}
	for typ, n := range map[string]int{"identity": 1, "incident": 1, "indicator": 1, "sighting": 1, "observed-data": 3, "relationship": 1, "x-lachan-event": 3, "file": 1, "domain-name": 1, "ipv4-addr": 1} {
		if types[typ] != n {
			t.Errorf("%d %s objects, want %d (all: %v)", types[typ], typ, n, types)
		}
	}
	text := string(raw)
	for _, personal := range []string{"Nguyễn", "Văn An", "nva", "an.nguyen@", "079203001234", "Trần", "Ngọc", "0912 345 678", "10.10.1.25"} {
		if strings.Contains(text, personal) {
			t.Errorf("personal value %q left the server", personal)
		}
	}
	for _, kept := range []string{"203.0.113.9", "evil.example", "275a021bbfb6489e", "Phường Bến Thành", m.Token("user", "nva"), m.Token("person", "Nguyễn Văn An")} {
		if !strings.Contains(text, kept) {
			t.Errorf("%q missing from the bundle", kept)
		}
	}
	if id := ID("incident", "incident", inc.ID); !strings.Contains(text, `"id":"`+id+`"`) {
		t.Errorf("incident ID is not derived from the Lá Chắn ID (%s)", id)
	}
}

func TestParseEnvelopeRefusesMalformed(t *testing.T) {
	good := `{"type":"incident","spec_version":"2.1","id":"incident--2c790cbc-81e8-5cba-aa6d-625c358d0333","created":"2025-06-02T08:30:00.000Z","modified":"2025-06-02T08:30:00.000Z","name":"x"}`
	cases := []struct{ body, want string }{
		{`{"objects":[` + good + `]}`, ""},
		{`{"type":"bundle","id":"bundle--2c790cbc-81e8-5cba-aa6d-625c358d0333","objects":[` + good + `]}`, ""},
		{`not json`, "envelope"},
		{`{"type":"report","objects":[]}`, `type "report"`},
		{`{"objects":[1]}`, "objects[0]: not a JSON object"},
		{`{"objects":[` + strings.Replace(good, `"name":"x"`, `"xyz":1`, 1) + `]}`, "property name: required"},
		{`{"objects":[` + strings.Replace(good, `incident--2c`, `indicator--2c`, 1) + `]}`, "property id"},
		{`{"objects":[` + strings.Replace(good, `"spec_version":"2.1"`, `"spec_version":"2.0"`, 1) + `]}`, "spec_version"},
		{`{"objects":[` + strings.Replace(good, `"created":"2025-06-02T08:30:00.000Z"`, `"created":"yesterday"`, 1) + `]}`, "property created"},
		{`{"objects":[` + strings.Replace(good, `"name":"x"`, `"name":"x","created_by_ref":"nobody"`, 1) + `]}`, "created_by_ref"},
		{`{"objects":[` + strings.Replace(good, `"name":"x"`, `"name":"x","Bad-Prop":1`, 1) + `]}`, "Bad-Prop"},
		{`{"objects":[` + good + `,` + good + `]}`, "given twice"},
	}
	for _, c := range cases {
		_, err := ParseEnvelope([]byte(c.body))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%.60s…: %v", c.body, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%.60s…: err %v, want %q", c.body, err, c.want)
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	inc, evs := sampleIncident()
	raw, _ := Encode(IncidentBundle(inc, evs, 1, inc.Updated, Reporter{Sender: "s", Unit: "u"}, testMasker(f).Session()))
	f.Add(raw)
	f.Add([]byte(`{"objects":[]}`))
	f.Add([]byte(`{"objects":[{"type":"x-y","id":"x-y--2c790cbc-81e8-5cba-aa6d-625c358d0333"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		objs, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		for _, o := range objs {
			if err := ValidateObject(o); err != nil {
				t.Fatalf("accepted an invalid object: %v", err)
			}
		}
		_, _ = remoteIncidents(objs, sender{Sender: Sender{Name: "s", Unit: "u"}})
	})
}

const timeStep = time.Minute

func time_(n uint64) time.Duration { return time.Duration(n) }
