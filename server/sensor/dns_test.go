package sensor

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"lachan/internal/event"
)

func TestDNSPairing(t *testing.T) {
	const client, resolver = "192.168.1.10", "192.168.1.1"
	ms := time.Millisecond
	q := dnsQuery(0x1234, "www.example.org", layers.DNSTypeA)
	answer := dnsAnswer(q, layers.DNSResponseCodeNoErr,
		layers.DNSResourceRecord{Name: []byte("www.example.org"), Type: layers.DNSTypeCNAME, Class: layers.DNSClassIN, TTL: 60, CNAME: []byte("edge.example.net")},
		layers.DNSResourceRecord{Name: []byte("edge.example.net"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 30, IP: net.IPv4(93, 184, 216, 34)})
	nx := dnsQuery(7, "nope.example", layers.DNSTypeAAAA)
	tests := []struct {
		name  string
		build func(c *capture)
		want  []map[string]string // fields of each DNS event, in emission order
	}{
		{
			name: "answered",
			build: func(c *capture) {
				c.dns(ms, client, 40000, resolver, 53, q)
				c.dns(2*ms, resolver, 53, client, 40000, answer)
			},
			want: []map[string]string{{
				"source.ip": client, "source.port": "40000", "destination.port": "53", "dns.id": "4660",
				"dns.type": "answer", "dns.question.name": "www.example.org", "dns.question.type": "A",
				"dns.question.class": "IN", "dns.response_code": "NOERROR", "dns.header_flags": `["RD","RA"]`,
				"dns.resolved_ip": `["93.184.216.34"]`, "event.duration": "2000000",
				"@timestamp": "2024-05-06T07:08:09.001Z",
				"dns.answers": `[{"class":"IN","data":"edge.example.net","name":"www.example.org","ttl":60,"type":"CNAME"},` +
					`{"class":"IN","data":"93.184.216.34","name":"edge.example.net","ttl":30,"type":"A"}]`,
			}},
		},
		{
			name: "nxdomain and an unanswered repeat",
			build: func(c *capture) {
				c.dns(ms, client, 40001, resolver, 53, nx)
				c.dns(ms, client, 40001, resolver, 53, nx) // retransmission: the first is unanswered
				c.dns(ms, resolver, 53, client, 40001, dnsAnswer(nx, layers.DNSResponseCodeNXDomain))
				c.dns(ms, client, 40002, resolver, 53, q) // never answered
			},
			want: []map[string]string{
				{"dns.question.name": "nope.example", "dns.type": "query", "dns.response_code": "", "@timestamp": "2024-05-06T07:08:09.001Z"},
				{"dns.question.type": "AAAA", "dns.response_code": "NXDOMAIN", "@timestamp": "2024-05-06T07:08:09.002Z", "dns.answers": ""},
				{"source.port": "40002", "dns.type": "query", "dns.question.name": "www.example.org"},
			},
		},
		{
			name: "response without its query",
			build: func(c *capture) {
				c.dns(ms, resolver, 53, client, 40000, answer)
			},
			want: []map[string]string{{"source.ip": resolver, "source.port": "53", "dns.type": "answer", "dns.response_code": "NOERROR", "event.duration": ""}},
		},
		{
			name: "an old query expires before later traffic",
			build: func(c *capture) {
				c.dns(ms, client, 40003, resolver, 53, q)
				c.dns(2*time.Minute, client, 40004, resolver, 53, nx)
			},
			want: []map[string]string{{"source.port": "40003"}, {"source.port": "40004"}},
		},
		{
			name: "other ports are not DNS",
			build: func(c *capture) {
				c.dns(ms, client, 40000, resolver, 5300, q)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCapture(t)
			tt.build(c)
			evs, st := decodeAll(t, c.bytes(), DefaultConfig())
			dns := byDataset(evs, event.DatasetDNS)
			if len(dns) != len(tt.want) || st.DNSRecords != int64(len(tt.want)) {
				t.Fatalf("%d DNS events (stats %d), want %d: %v", len(dns), st.DNSRecords, len(tt.want), dns)
			}
			for i, want := range tt.want {
				for f, v := range want {
					if got := dns[i].String(f); got != v {
						t.Errorf("event %d: %s = %s, want %s", i, f, got, v)
					}
				}
				wantID := event.DeriveTimedID(dns[i].Timestamp, "dns", dns[i].String("network.community_id"), dns[i].String("dns.id"),
					strconv.FormatInt(dns[i].Timestamp.UnixNano(), 10))
				if dns[i].ID != wantID {
					t.Errorf("event %d: ID %s, want %s", i, dns[i].ID, wantID)
				}
			}
		})
	}
}

func TestRRData(t *testing.T) {
	tests := []struct {
		rr   layers.DNSResourceRecord
		want string
	}{
		{layers.DNSResourceRecord{Type: layers.DNSTypeAAAA, IP: net.ParseIP("2001:db8::1")}, "2001:db8::1"},
		{layers.DNSResourceRecord{Type: layers.DNSTypeMX, MX: layers.DNSMX{Preference: 10, Name: []byte("mx.example")}}, "10 mx.example"},
		{layers.DNSResourceRecord{Type: layers.DNSTypeSRV, SRV: layers.DNSSRV{Priority: 1, Weight: 2, Port: 3, Name: []byte("t.example")}}, "1 2 3 t.example"},
		{layers.DNSResourceRecord{Type: layers.DNSTypeSOA, SOA: layers.DNSSOA{MName: []byte("ns"), RName: []byte("host"), Serial: 1, Refresh: 2, Retry: 3, Expire: 4, Minimum: 5}}, "ns host 1 2 3 4 5"},
		{layers.DNSResourceRecord{Type: layers.DNSTypeTXT, TXTs: [][]byte{[]byte(`v=spf1 -all`)}}, `TXT 11 v=spf1 -all`},
		{layers.DNSResourceRecord{Type: layers.DNSTypeTXT, TXTs: [][]byte{[]byte(`a "b"`), {'\\', 7}, {}}}, `TXT 5 a "b" TXT 2 \x5c\x07 TXT 0 `},
		{layers.DNSResourceRecord{Type: 99, Data: []byte{0xab, 0xcd}}, `\# 2 abcd`},
		{layers.DNSResourceRecord{Type: layers.DNSTypeA}, `\# 0 `},
	}
	for _, tt := range tests {
		if got := rrData(&tt.rr); got != tt.want {
			t.Errorf("rrData(%s) = %q, want %q", typeName(tt.rr.Type), got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	nb := []struct {
		in      string
		netbios bool
		want    string
	}{
		{"FHEPFCELEHFCEPFFFACACACACACACABN", true, "WORKGROUP"},
		{"FHEPFCELEHFCEPFFFACACACACACACABN.scope", true, "WORKGROUP"},
		{"FHEPFCELEHFCEPFFFACACACACACACABN", false, "FHEPFCELEHFCEPFFFACACACACACACABN"},
		{"not-netbios.example", true, "not-netbios.example"},
		{"ZZEPFCELEHFCEPFFFACACACACACACABN", true, "ZZEPFCELEHFCEPFFFACACACACACACABN"},
	}
	for _, tt := range nb {
		if got := dnsName([]byte(tt.in), tt.netbios); got != tt.want {
			t.Errorf("dnsName(%q, %v) = %q, want %q", tt.in, tt.netbios, got, tt.want)
		}
	}
	for _, tt := range []struct{ got, want string }{
		{typeName(1), "A"}, {typeName(65), "HTTPS"}, {typeName(4242), "TYPE4242"},
		{className(1, false), "IN"}, {className(0x8001, true), "IN"}, {className(0x8001, false), "CLASS32769"},
		{rcodeName(3), "NXDOMAIN"}, {rcodeName(16), "BADVERS"}, {rcodeName(15), "RCODE15"},
		{opcodeName(0), "QUERY"}, {opcodeName(9), "9"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
