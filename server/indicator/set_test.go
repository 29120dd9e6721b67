package indicator

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/store"
	"lachan/server/store/embedded"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func loadBundle(t *testing.T) []Indicator {
	t.Helper()
	f, err := os.Open("testdata/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inds, _ := ParseSTIX(f, "upper-tier")
	return inds
}

func ev(id, dataset string, ts time.Time, fields map[string]any) event.Event {
	e := event.Event{ID: id, Timestamp: ts, Dataset: dataset}
	for k, v := range fields {
		e.Set(k, v)
	}
	return e
}

func TestMatch(t *testing.T) {
	s, err := NewSet(DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), loadBundle(t)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ev   event.Event
		want []string // rule.id field=value
	}{
		{"dns subdomain", ev("e1", event.DatasetDNS, t0, map[string]any{"dns.question.name": "CDN.evil.example.", "source.ip": "10.1.1.5"}),
			[]string{"indicator:domain dns.question.name=CDN.evil.example."}},
		{"lookalike domain", ev("e2", event.DatasetDNS, t0, map[string]any{"dns.question.name": "notevil.example"}), nil},
		{"flow into network", ev("e3", event.DatasetFlow, t0, map[string]any{"source.ip": "10.1.1.5", "destination.ip": "198.51.100.77"}),
			[]string{"indicator:ip destination.ip=198.51.100.77"}},
		{"resolved v6", ev("e4", event.DatasetDNS, t0, map[string]any{"dns.resolved_ip": []any{"192.0.2.1", "2001:db8::1"}}),
			[]string{"indicator:ip dns.resolved_ip=2001:db8::1"}},
		{"ip indicator expired", ev("e5", event.DatasetFlow, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), map[string]any{"destination.ip": "198.51.100.77"}), nil},
		{"before valid_from", ev("e6", event.DatasetFlow, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), map[string]any{"destination.ip": "198.51.100.77"}), nil},
		{"yara finding hashes", ev("e7", event.DatasetYARA, t0, map[string]any{"file.hash.md5": "44D88612FEA8A8F36DE82E1278ABB02F",
			"file.hash.sha256": "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}),
			[]string{"indicator:md5 file.hash.md5=44D88612FEA8A8F36DE82E1278ABB02F", "indicator:sha256 file.hash.sha256=aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}},
		{"url", ev("e8", "network.http", t0, map[string]any{"url.full": "http://DOWNLOAD.example/payload.exe"}),
			[]string{"indicator:url url.full=http://DOWNLOAD.example/payload.exe"}},
		{"alerts are not matched", ev("e9", event.DatasetAlert, t0, map[string]any{"destination.ip": "198.51.100.77"}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, a := range s.Match(tc.ev) {
				if err := a.Validate(); err != nil {
					t.Errorf("alert does not validate: %v", err)
				}
				f := a.Strings("lachan.alert.matched_fields")
				if len(f) != 1 {
					t.Fatalf("matched fields %v", f)
				}
				m, _ := a.Fields["lachan.alert.matched"].(map[string]any)
				got = append(got, a.String("rule.id")+" "+f[0]+"="+m[f[0]].(string))
				if ids := a.Strings("lachan.alert.source_ids"); len(ids) != 1 || ids[0] != tc.ev.ID {
					t.Errorf("source ids %v", ids)
				}
				if !a.Timestamp.Equal(tc.ev.Timestamp) || a.Dataset != event.DatasetAlert || a.String("rule.level") != "high" {
					t.Errorf("alert time %v dataset %s level %s", a.Timestamp, a.Dataset, a.String("rule.level"))
				}
				if a.String("threat.indicator.provider") != "upper-tier" || a.String("threat.indicator.reference") == "" {
					t.Errorf("threat.indicator fields missing: %v", a.Fields)
				}
			}
			sort.Strings(got)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSetPersistsAndRemoves(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() (store.Store, *Set) {
		cfg := embedded.DefaultConfig()
		cfg.Dir = dir
		st, err := embedded.Open(cfg, logging.Discard())
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSet(DefaultConfig(), st, logging.Discard())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return st, s
	}
	st, s := open()
	inds := loadBundle(t)
	if err := s.Add(ctx, inds); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, inds[:1]); err != nil { // again: replaces, no conflict
		t.Fatal(err)
	}
	if n, err := s.Remove(ctx, "indicator--1f4b3a55-4f37-4d64-9d8e-5f1c2b7a9e10"); err != nil || n != 2 {
		t.Fatalf("remove by STIX id: %d, %v; want 2", n, err)
	}
	st.Close()
	st, s = open()
	defer st.Close()
	if s.Len() != len(inds)-2 {
		t.Fatalf("after reopen %d indicators, want %d", s.Len(), len(inds)-2)
	}
	if got := s.Match(ev("e1", event.DatasetDNS, t0, map[string]any{"dns.question.name": "evil.example"})); len(got) != 1 {
		t.Errorf("reloaded set: %d alerts, want 1", len(got))
	}
	bad := []Indicator{{Type: TypeDomain, Value: "ok.example"}, {Type: TypeMD5, Value: "zz"}}
	if err := s.Add(ctx, bad); err == nil || !strings.Contains(err.Error(), "indicator 1") {
		t.Errorf("invalid batch: %v", err)
	}
	if s.Len() != len(inds)-2 {
		t.Errorf("an invalid batch changed the set")
	}
}

func TestSweep(t *testing.T) {
	cfg := embedded.DefaultConfig()
	cfg.Dir = t.TempDir()
	st, err := embedded.Open(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var evs []event.Event
	for i := 0; i < 50; i++ {
		evs = append(evs, ev(event.DeriveID("flow", string(rune('a'+i%26)), time.Duration(i).String()), event.DatasetFlow,
			t0.Add(time.Duration(i)*time.Minute), map[string]any{"source.ip": "10.0.0.5", "destination.ip": "203.0.113.1", "lachan.unit": "u1"}))
	}
	evs[7].Set("destination.ip", "198.51.100.9")
	evs[30].Set("destination.ip", "198.51.100.10")
	evs[40].Set("lachan.unit", "u2")
	evs[40].Set("destination.ip", "198.51.100.11")
	dns := ev(event.DeriveID("dns", "1"), event.DatasetDNS, t0, map[string]any{"dns.question.name": "a.b.evil.example", "lachan.unit": "u1"})
	evs = append(evs, dns)
	if _, err := st.PutEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	alerts, err := Sweep(ctx, st, store.Query{Units: []string{"u1"}, From: t0, To: t0.Add(time.Hour)}, loadBundle(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, a := range alerts {
		got[a.Strings("lachan.alert.source_ids")[0]] = true
	}
	want := map[string]bool{evs[7].ID: true, evs[30].ID: true, dns.ID: true}
	if len(got) != len(want) || len(alerts) != len(want) {
		t.Fatalf("sweep alerted on %v (%d alerts), want %v", got, len(alerts), want)
	}
	for id := range want {
		if !got[id] {
			t.Errorf("sweep missed %s", id)
		}
	}
}
