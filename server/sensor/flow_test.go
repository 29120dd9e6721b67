package sensor

import (
	"net/netip"
	"testing"
	"time"

	"lachan/internal/event"
)

// flowSummary is what the lifecycle tests compare of a flow event.
type flowSummary struct {
	src, reason        string
	srcPkts, dstPkts   int64
	srcBytes, dstBytes int64
}

func summarize(evs []event.Event) []flowSummary {
	var out []flowSummary
	for _, ev := range byDataset(evs, event.DatasetFlow) {
		out = append(out, flowSummary{
			src: ev.String("source.ip") + ":" + ev.String("source.port"), reason: ev.String("flow.end_reason"),
			srcPkts: ev.Int("source.packets"), dstPkts: ev.Int("destination.packets"),
			srcBytes: ev.Int("source.bytes"), dstBytes: ev.Int("destination.bytes"),
		})
	}
	return out
}

func TestFlowLifecycle(t *testing.T) {
	const a, b = "10.0.0.1", "10.0.0.2"
	ms := time.Millisecond
	tests := []struct {
		name        string
		cfg         func(*Config)
		build       func(c *capture)
		want        []flowSummary
		wantEvicted int64
	}{
		{
			name: "tcp close keeps the last ACK",
			build: func(c *capture) {
				c.tcp(ms, a, 1000, b, 80, "S", nil)
				c.tcp(ms, b, 80, a, 1000, "SA", nil)
				c.tcp(ms, a, 1000, b, 80, "PA", make([]byte, 10))
				c.tcp(ms, a, 1000, b, 80, "FA", nil)
				c.tcp(ms, b, 80, a, 1000, "FA", nil)
				c.tcp(ms, a, 1000, b, 80, "A", nil)
				c.udp(10*time.Second, a, 5, b, 6, nil) // later traffic ends the closed flow
			},
			want: []flowSummary{
				{a + ":1000", endClosed, 4, 2, 40*3 + 50, 80},
				{a + ":5", endEOF, 1, 0, 28, 0},
			},
		},
		{
			name: "rst then a new connection on the same ports",
			build: func(c *capture) {
				c.tcp(ms, a, 1000, b, 80, "S", nil)
				c.tcp(ms, b, 80, a, 1000, "R", nil)
				c.tcp(ms, a, 1000, b, 80, "S", nil)
			},
			want: []flowSummary{{a + ":1000", endClosed, 1, 1, 40, 40}, {a + ":1000", endEOF, 1, 0, 40, 0}},
		},
		{
			name: "syn-ack first: its receiver is the initiator",
			build: func(c *capture) {
				c.tcp(ms, b, 80, a, 1000, "SA", nil)
				c.tcp(ms, a, 1000, b, 80, "A", nil)
			},
			want: []flowSummary{{a + ":1000", endEOF, 1, 1, 40, 40}},
		},
		{
			name: "idle timeout splits a flow",
			build: func(c *capture) {
				c.udp(ms, a, 1000, b, 2000, nil)
				c.udp(2*time.Minute, b, 2000, a, 1000, nil)
			},
			want: []flowSummary{{a + ":1000", endIdle, 1, 0, 28, 0}, {b + ":2000", endEOF, 1, 0, 28, 0}},
		},
		{
			name: "active timeout splits a busy flow",
			cfg:  func(c *Config) { c.FlowActiveTimeout = 100 * ms },
			build: func(c *capture) {
				for i := 0; i < 3; i++ {
					c.udp(60*ms, a, 1000, b, 2000, nil)
				}
			},
			want: []flowSummary{{a + ":1000", endActive, 2, 0, 56, 0}, {a + ":1000", endEOF, 1, 0, 28, 0}},
		},
		{
			name: "full table evicts the least recently active flow",
			cfg:  func(c *Config) { c.MaxFlows = 2 },
			build: func(c *capture) {
				c.udp(ms, a, 1, b, 2, nil)
				c.udp(ms, a, 3, b, 4, nil)
				c.udp(ms, b, 2, a, 1, nil) // flow 1 is now the most recent
				c.udp(ms, a, 5, b, 6, nil)
			},
			want: []flowSummary{
				{a + ":3", endEvicted, 1, 0, 28, 0},
				{a + ":1", endEOF, 1, 1, 28, 28},
				{a + ":5", endEOF, 1, 0, 28, 0},
			},
			wantEvicted: 1,
		},
		{
			name: "icmp echo request and reply are one flow",
			build: func(c *capture) {
				c.ip(ms, a, b, echo(8))
				c.ip(ms, b, a, echo(0))
			},
			want: []flowSummary{{a + ":", endEOF, 1, 1, 28, 28}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c := newCapture(t)
			tt.build(c)
			evs, st := decodeAll(t, c.bytes(), cfg)
			got := summarize(evs)
			if len(got) != len(tt.want) {
				t.Fatalf("flows:\n got %+v\nwant %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("flow %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
			if st.FlowsEvicted != tt.wantEvicted || st.Flows != int64(len(tt.want)) {
				t.Errorf("Stats %+v, want %d flows, %d evicted", st, len(tt.want), tt.wantEvicted)
			}
		})
	}
}

func TestFlowFieldsAndIdempotence(t *testing.T) {
	c := newCapture(t)
	c.ip(time.Millisecond, "1.2.3.4", "5.6.7.8", echo(8))
	c.tcp(time.Millisecond, "1.2.3.4", 1122, "5.6.7.8", 3344, "S", nil)
	c.tcp(time.Second, "5.6.7.8", 3344, "1.2.3.4", 1122, "SA", nil)
	first, _ := decodeAll(t, c.bytes(), DefaultConfig())
	again, _ := decodeAll(t, c.bytes(), DefaultConfig())
	if len(first) != 2 || len(again) != 2 {
		t.Fatalf("%d and %d events, want 2", len(first), len(again))
	}
	for i := range first {
		if first[i].ID != again[i].ID {
			t.Errorf("event %d: ID %s on the first import, %s on the second", i, first[i].ID, again[i].ID)
		}
	}
	icmp, tcp := first[0], first[1]
	if icmp.String("network.transport") == "tcp" {
		icmp, tcp = tcp, icmp
	}
	for _, check := range []struct {
		ev          event.Event
		field, want string
	}{
		{icmp, "network.community_id", "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
		{icmp, "network.transport", "icmp"},
		{icmp, "icmp.type", "8"},
		{tcp, "network.community_id", "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{tcp, "network.type", "ipv4"},
		{tcp, "event.kind", "event"},
		{tcp, "event.category", "network"},
		{tcp, "event.start", "2024-05-06T07:08:09.002Z"},
		{tcp, "event.end", "2024-05-06T07:08:10.002Z"},
		{tcp, "event.duration", "1000000000"},
		{tcp, "tcp.flags", `["SYN","ACK"]`},
		{tcp, "@timestamp", "2024-05-06T07:08:09.002Z"},
		{tcp, "event.id", event.DeriveTimedID(time.Unix(0, 1714979289002000000), "flow", "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1714979289002000000")},
	} {
		if got := check.ev.String(check.field); got != check.want {
			t.Errorf("%s %s = %s, want %s", check.ev.String("network.transport"), check.field, got, check.want)
		}
	}
}

// TestOrderedWords holds the flow key's ordering to the Community ID's,
// which it stands in for, on addresses of each family.
func TestOrderedWords(t *testing.T) {
	addrs := []string{"0.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.1.1", "192.168.1.10", "255.255.255.255",
		"::", "::1", "2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "fe80::1", "ffff::"}
	for _, as := range addrs {
		for _, bs := range addrs {
			a, b := netip.MustParseAddr(as), netip.MustParseAddr(bs)
			if a.Is4() != b.Is4() {
				continue
			}
			for _, ports := range [][2]uint16{{1, 2}, {2, 1}, {80, 80}} {
				got := orderedWords(addrWords(a), addrWords(b), ports[0], ports[1])
				if want := endpointsOrdered(a, b, ports[0], ports[1]); got != want {
					t.Errorf("orderedWords(%s, %s, %v) = %v, want %v", a, b, ports, got, want)
				}
				if w := addrWords(a); w.addr(a.Is6()) != a {
					t.Errorf("addrWords(%s) turns back into %s", a, w.addr(a.Is6()))
				}
			}
		}
	}
}
