package detect

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAggregationParse(t *testing.T) {
	head := "title: T\nid: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\nlogsource: {product: test}\ndetection:\n  sel:\n    a: b\n  other:\n    c: d\n"
	tests := []struct {
		detection string
		agg       string // Field GroupBy Op Value Timeframe
		err, warn string
	}{
		{"  timeframe: 5m\n  condition: sel | count() by host > 5\n", " host > 5 5m0s", "", ""},
		{"  timeframe: 24h\n  condition: sel and not other | count(User) by IpAddress >= 10\n", "User IpAddress >= 10 24h0m0s", "", ""},
		{"  timeframe: 7d\n  condition: (sel) | count() < 5\n", "  < 5 168h0m0s", "", ""},
		{"  timeframe: 15s\n  condition: sel | count(x) = 1\n", "x  == 1 15s", "", ""},
		{"  condition: sel | count() by host > 5\n", " host > 5 0s", "", "r.yml:9:18: condition: an aggregation without a timeframe counts over the aggregation window"},
		{"  timeframe: 1M\n  condition: sel | count() > 5\n", "", "r.yml:9:14: timeframe \"1M\": want a number and s, m, h or d", ""},
		{"  timeframe: 5m\n  condition: sel | sum(x) > 5\n", "", "r.yml:10:19: condition: aggregation \"sum(x) > 5\": only count([field]) [by field] >|>=|<|<=|== N is supported", ""},
		{"  timeframe: 5m\n  condition:\n    - sel | count() > 5\n    - other\n", "", "r.yml:11:11: condition: an aggregation (\"| count() ...\") must be the rule's only condition", ""},
		{"  timeframe: 5m\n  condition: sel\n", "", "", "r.yml:9:3: timeframe has no effect without an aggregation"},
	}
	for _, tt := range tests {
		r, err := ParseRule("r.yml", []byte(head+tt.detection))
		if tt.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %s", tt.detection, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.detection, err)
			continue
		}
		if tt.warn != "" && (len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0].Error(), tt.warn)) {
			t.Errorf("%q: warnings %v, want %s", tt.detection, r.Warnings, tt.warn)
		}
		a := r.Detection.Aggregation
		if tt.agg == "" {
			if a != nil {
				t.Errorf("%q: aggregation %+v", tt.detection, a)
			}
			continue
		}
		if a == nil {
			t.Errorf("%q: no aggregation", tt.detection)
			continue
		}
		if got := strings.Join([]string{a.Field, a.GroupBy, a.Op, itoa(a.Value), a.Timeframe.String()}, " "); got != tt.agg {
			t.Errorf("%q: aggregation %q, want %q", tt.detection, got, tt.agg)
		}
	}
	if d, ok := parseTimeframe("30d"); !ok || d != 30*24*time.Hour {
		t.Errorf("30d: %v %v", d, ok)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
