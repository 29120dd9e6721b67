package sensor

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"lachan/internal/event"
)

func dnsBytes(t testing.TB, msg *layers.DNS) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := msg.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// framed prefixes msg with a length, which lie adds to.
func framed(msg []byte, lie int) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(msg)+lie)), msg...)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// tcpDNSCapture writes a connection to port 53 whose client sends the
// given segments and whose server answers with its own.
func tcpDNSCapture(t *testing.T, client, server [][]byte) []byte {
	return tcpDNSCaptureTB(t, client, server)
}

func tcpDNSCaptureTB(t testing.TB, client, server [][]byte) []byte {
	c := newCapture(t)
	const cli, srv = "10.0.0.1", "10.0.0.53"
	cseq, sseq := uint32(1000), uint32(5000)
	c.tcpSeq(time.Millisecond, cli, 40000, srv, 53, "S", cseq, nil)
	c.tcpSeq(time.Millisecond, srv, 53, cli, 40000, "SA", sseq, nil)
	cseq, sseq = cseq+1, sseq+1
	c.tcpSeq(time.Millisecond, cli, 40000, srv, 53, "A", cseq, nil)
	for _, seg := range client {
		c.tcpSeq(time.Millisecond, cli, 40000, srv, 53, "PA", cseq, seg)
		cseq += uint32(len(seg))
	}
	for _, seg := range server {
		c.tcpSeq(time.Millisecond, srv, 53, cli, 40000, "PA", sseq, seg)
		sseq += uint32(len(seg))
	}
	c.tcpSeq(time.Millisecond, cli, 40000, srv, 53, "FA", cseq, nil)
	c.tcpSeq(time.Millisecond, srv, 53, cli, 40000, "FA", sseq, nil)
	return c.bytes()
}

func TestDNSOverTCP(t *testing.T) {
	q1, q2 := dnsQuery(1, "a.example", layers.DNSTypeA), dnsQuery(2, "b.example", layers.DNSTypeTXT)
	a1 := dnsAnswer(q1, layers.DNSResponseCodeNoErr, layers.DNSResourceRecord{Name: []byte("a.example"),
		Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: net.IPv4(192, 0, 2, 1)})
	a2 := dnsAnswer(q2, layers.DNSResponseCodeNXDomain)
	f1, f2 := framed(dnsBytes(t, q1), 0), framed(dnsBytes(t, q2), 0)
	r1, r2 := framed(dnsBytes(t, a1), 0), framed(dnsBytes(t, a2), 0)
	both := cat(r1, r2)
	tests := []struct {
		name      string
		client    [][]byte
		server    [][]byte
		want      map[string]string // question name -> response code ("" when unanswered)
		appErrors int64
	}{
		{"two queries in one segment, answers split anywhere", [][]byte{cat(f1, f2)},
			[][]byte{both[:1], both[1:7], both[7 : len(r1)+1], both[len(r1)+1:]},
			map[string]string{"a.example": "NOERROR", "b.example": "NXDOMAIN"}, 0},
		{"one message per segment", [][]byte{f1, f2}, [][]byte{r2, r1},
			map[string]string{"a.example": "NOERROR", "b.example": "NXDOMAIN"}, 0},
		{"length promises more than comes", [][]byte{framed(dnsBytes(t, q1), 40)}, nil, map[string]string{}, 1},
		{"length shorter than a header", [][]byte{cat([]byte{0, 3, 1, 2, 3}, f2)}, nil, map[string]string{}, 1},
		{"length cuts the message short", [][]byte{cat(framed(dnsBytes(t, q1)[:20], 0), f2)}, nil, map[string]string{}, 1},
		{"valid query then a truncated one", [][]byte{cat(f1, f2[:9])}, nil, map[string]string{"a.example": ""}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, st := decodeAll(t, tcpDNSCapture(t, tt.client, tt.server), DefaultConfig())
			got := map[string]string{}
			for _, ev := range byDataset(evs, event.DatasetDNS) {
				if ev.String("network.transport") != "tcp" || ev.String("destination.port") != "53" {
					t.Errorf("DNS record on %s port %s", ev.String("network.transport"), ev.String("destination.port"))
				}
				got[ev.String("dns.question.name")] = ev.String("dns.response_code")
			}
			if len(got) != len(tt.want) {
				t.Errorf("records %v, want %v", got, tt.want)
			}
			for name, rcode := range tt.want {
				if r, ok := got[name]; !ok || r != rcode {
					t.Errorf("%s: response code %q (present %v), want %q", name, r, ok, rcode)
				}
			}
			if st.AppErrors != tt.appErrors {
				t.Errorf("%d malformed streams, want %d", st.AppErrors, tt.appErrors)
			}
			flows := byDataset(evs, event.DatasetFlow)
			if len(flows) != 1 || len(tt.want) > 0 && flows[0].String("network.protocol") != "dns" {
				t.Errorf("flows %v, want one marked dns", flows)
			}
		})
	}
}
