package elastic

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
	"lachan/server/store/hunt"
)

func dsl(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFilterDSL(t *testing.T) {
	e := &Engine{mapping: store.DefaultMapping(), names: names{"t"}}
	tests := []struct{ hunt, want string }{
		{"host.id:pc-01", `{"terms":{"host.id":["pc-01"]}}`},
		{"message:boom", `{"terms":{"message.keyword":["boom"]}}`},
		{"no.such:x", `{"terms":{"no.such.keyword":["x"]}}`},
		{"source.port:443", `{"terms":{"source.port":[443]}}`},
		{"source.port:https", `{"match_none":{}}`},
		{"tls.established:true", `{"terms":{"tls.established":[true]}}`},
		{"source.ip:10.0.0.0/8", `{"term":{"source.ip":"10.0.0.0/8"}}`},
		{"host.name:10.0.0.0/8", `{"terms":{"host.name":["10.0.0.0/8"]}}`},
		{"source.ip:10.0.0.?", `{"wildcard":{"source.ip.keyword":{"value":"10.0.0.?"}}}`},
		{"file.size:1*", `{"match_none":{}}`},
		{"rule.id:*", `{"exists":{"field":"rule.id"}}`},
		{"not user.name:admin*", `{"bool":{"must_not":[{"wildcard":{"user.name":{"value":"admin*"}}}]}}`},
		{"a:1 or b:2", `{"bool":{"minimum_should_match":1,"should":[{"terms":{"a.keyword":["1"]}},{"terms":{"b.keyword":["2"]}}]}}`},
		{"event.count >= 100", `{"range":{"event.count":{"gte":100}}}`},
		{"source.port:[1 TO 1024}", `{"range":{"source.port":{"gte":1,"lt":1024}}}`},
		{"host.name > pc-5", `{"range":{"host.name":{"gt":"pc-5"}}}`},
		{"source.port > abc", `{"match_none":{}}`},
		{"@timestamp >= 2026-11-23T08:10:00Z", fmt.Sprintf(`{"range":{"lachan.ts_ns":{"gte":%d}}}`, time.Date(2026, 11, 23, 8, 10, 0, 0, time.UTC).UnixNano())},
		{"event.start < 2026-01-01", `{"range":{"event.start":{"format":"strict_date_optional_time_nanos","lt":"2026-01-01T00:00:00Z"}}}`},
		{"powershell", `{"bool":{"minimum_should_match":1,"should":[` +
			`{"wildcard":{"dns.question.name":{"case_insensitive":true,"value":"*powershell*"}}},` +
			`{"wildcard":{"file.name":{"case_insensitive":true,"value":"*powershell*"}}},` +
			`{"wildcard":{"file.path":{"case_insensitive":true,"value":"*powershell*"}}},` +
			`{"wildcard":{"host.name":{"case_insensitive":true,"value":"*powershell*"}}},` +
			`{"wildcard":{"message.keyword":{"case_insensitive":true,"value":"*powershell*"}}},` +
			`{"wildcard":{"process.command_line.keyword":{"case_insensitive":true,"value":"*powershell*"}}},` +
			`{"wildcard":{"process.name":{"case_insensitive":true,"value":"*powershell*"}}},` +
			`{"wildcard":{"rule.name":{"case_insensitive":true,"value":"*powershell*"}}},` +
			`{"wildcard":{"url.original":{"case_insensitive":true,"value":"*powershell*"}}},` +
			`{"wildcard":{"user.name":{"case_insensitive":true,"value":"*powershell*"}}}]}}`},
	}
	for _, tc := range tests {
		t.Run(tc.hunt, func(t *testing.T) {
			x, err := hunt.Parse(tc.hunt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.filterDSL(x)
			if err != nil {
				t.Fatal(err)
			}
			if s := dsl(t, got); s != tc.want {
				t.Fatalf("\n got %s\nwant %s", s, tc.want)
			}
		})
	}
	if _, err := e.filterDSL(&store.Expr{Op: store.OpNot}); err == nil {
		t.Fatal("a malformed filter was translated")
	}
}

func TestQueryScope(t *testing.T) {
	e := &Engine{mapping: store.DefaultMapping(), names: names{"t"}}
	x, _ := hunt.Parse("lachan.unit:ward-2 or host.id:h1")
	tests := []struct {
		name string
		q    store.Query
		want string
	}{
		{"unscoped", store.Query{}, `{"bool":{"filter":null}}`},
		{"no units", store.Query{Units: []string{}, Filter: x}, `{"match_none":{}}`},
		{"scoped filter", store.Query{Units: []string{"ward-1"}, Filter: x, Datasets: []string{"network.flow"}},
			`{"bool":{"filter":[{"terms":{"lachan.unit":["ward-1"]}},{"terms":{"event.dataset":["network.flow"]}},` +
				`{"bool":{"minimum_should_match":1,"should":[{"terms":{"lachan.unit":["ward-2"]}},{"terms":{"host.id":["h1"]}}]}}]}}`},
		{"window and terms", store.Query{From: time.Unix(0, 5), To: time.Unix(0, 9), Terms: map[string][]string{"host.id": {}}},
			`{"bool":{"filter":[{"range":{"lachan.ts_ns":{"gte":5,"lt":9}}},{"match_none":{}}]}}`},
	}
	for _, tc := range tests {
		got, err := e.queryDSL(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if s := dsl(t, got); s != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, s, tc.want)
		}
	}
}

// hitJSON is a search hit as the search API documents it.
func hitJSON(t *testing.T, e event.Event) string {
	enc := &encoder{names: names{"t"}}
	doc, err := enc.appendDoc(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"_index":".ds-t-events-network-2026.11.23-000001","_id":%q,"_score":null,"_source":%s,"sort":[%d,%q]}`,
		e.ID, strings.TrimSpace(string(doc)), e.Timestamp.UnixNano(), e.ID)
}

func TestSearchEvents(t *testing.T) {
	f, srv := newFake(t)
	e := openTest(t, testConfig(srv.URL, ""))
	a := ev("a", event.DatasetFlow, map[string]any{"lachan.unit": "ward-1", "source.port": int64(53)})
	b := ev("b", event.DatasetFlow, map[string]any{"lachan.unit": "ward-1"})
	b.Timestamp = t0.Add(-time.Nanosecond)
	f.onSearch = func(path string, body map[string]any) string {
		return `{"took":2,"timed_out":false,"_shards":{"total":3,"successful":3,"skipped":0,"failed":0},"hits":{"max_score":null,"hits":[` +
			hitJSON(t, a) + "," + hitJSON(t, b) + `]}}`
	}
	after := &store.Cursor{Timestamp: t0.Add(time.Hour), ID: "z"}
	page, err := e.SearchEvents(context.Background(), store.Query{Units: []string{"ward-1"}, Limit: 1, After: after})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 || page.Events[0].ID != "a" || page.Events[0].Int("source.port") != 53 {
		t.Fatalf("page %+v", page.Events)
	}
	if _, ok := page.Events[0].Fields[fieldTS]; ok {
		t.Error("the engine's sort key leaked into the event")
	}
	if page.Next == nil || page.Next.ID != "a" || !page.Next.Timestamp.Equal(t0) {
		t.Fatalf("next %+v, want after a", page.Next)
	}
	req := f.requests("/_search")[0]
	if req.path != "/t-events-endpoint,t-events-network,t-events-alert/_search" || !strings.Contains(req.query, "ignore_unavailable=true") {
		t.Errorf("search sent to %s?%s", req.path, req.query)
	}
	for _, part := range []string{`"size":2`, `"search_after":[` + fmt.Sprint(after.Timestamp.UnixNano()) + `,"z"]`,
		`"sort":[{"lachan.ts_ns":"desc"},{"event.id":"desc"}]`, `{"terms":{"lachan.unit":["ward-1"]}}`} {
		if !strings.Contains(req.body, part) {
			t.Errorf("search body lacks %s: %s", part, req.body)
		}
	}
}

func TestAggregateAnswer(t *testing.T) {
	f, srv := newFake(t)
	e := openTest(t, testConfig(srv.URL, ""))
	f.onSearch = func(path string, body map[string]any) string {
		return `{"took":3,"timed_out":false,"_shards":{"total":3,"successful":3,"skipped":0,"failed":0},"hits":{"max_score":null,"hits":[]},"aggregations":{` +
			`"a0":{"doc_count_error_upper_bound":0,"sum_other_doc_count":7,"buckets":[{"key":"host-1","doc_count":30},{"key":"host-2","doc_count":30}]},` +
			`"a1":{"buckets":[{"key_as_string":"2026-11-23T08:00:00.000Z","key":1795420800000,"doc_count":2},{"key_as_string":"2026-11-23T09:00:00.000Z","key":1795424400000,"doc_count":5}]},` +
			`"a2":{"value":42},` +
			`"a3":{"doc_count_error_upper_bound":0,"sum_other_doc_count":0,"buckets":[{"key":1,"key_as_string":"true","doc_count":75},{"key":0,"key_as_string":"false","doc_count":75}]},` +
			`"a4":{"doc_count_error_upper_bound":0,"sum_other_doc_count":0,"buckets":[{"key":0.5,"doc_count":1},{"key":443,"doc_count":1}]}}}`
	}
	aggs := []store.Agg{
		{Name: "hosts", Kind: store.AggTerms, Field: "host.id", Size: 2},
		{Name: "hourly", Kind: store.AggDateHistogram, Interval: time.Hour},
		{Name: "distinct", Kind: store.AggCardinality, Field: "source.ip"},
		{Name: "flags", Kind: store.AggTerms, Field: "tls.established"},
		{Name: "nums", Kind: store.AggTerms, Field: "event.risk_score"},
	}
	res, err := e.Aggregate(context.Background(), store.Query{Units: []string{"ward-1"}}, aggs)
	if err != nil {
		t.Fatal(err)
	}
	got := dsl(t, res)
	want := `[{"name":"hosts","kind":"terms","buckets":[{"key":"host-1","time":"0001-01-01T00:00:00Z","count":30},{"key":"host-2","time":"0001-01-01T00:00:00Z","count":30}],"other":7},` +
		`{"name":"hourly","kind":"date_histogram","buckets":[{"key":"2026-11-23T08:00:00Z","time":"2026-11-23T08:00:00Z","count":2},{"key":"2026-11-23T09:00:00Z","time":"2026-11-23T09:00:00Z","count":5}]},` +
		`{"name":"distinct","kind":"cardinality","value":42},` +
		`{"name":"flags","kind":"terms","buckets":[{"key":"true","time":"0001-01-01T00:00:00Z","count":75},{"key":"false","time":"0001-01-01T00:00:00Z","count":75}]},` +
		`{"name":"nums","kind":"terms","buckets":[{"key":"0.5","time":"0001-01-01T00:00:00Z","count":1},{"key":"443","time":"0001-01-01T00:00:00Z","count":1}]}]`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	body := f.requests("/_search")[0].body
	for _, part := range []string{`"size":0`, `"fixed_interval":"3600000ms"`, `"precision_threshold":40000`, `"field":"source.ip.keyword"`, `{"terms":{"lachan.unit":["ward-1"]}}`} {
		if !strings.Contains(body, part) {
			t.Errorf("aggregation request lacks %s: %s", part, body)
		}
	}
}
