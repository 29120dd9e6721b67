package sensor

import (
	"net/netip"
	"testing"
	"time"

	"lachan/internal/event"
)

// fuzzConn returns an application connection on a test flow whose records
// are validated as they are emitted.
func fuzzConn(t *testing.T, cfg Config) (*appConn, *Stats) {
	st := &Stats{}
	a := newApps(cfg, st, func(ev event.Event) error {
		if err := ev.Validate(); err != nil {
			t.Fatalf("invalid %s event: %v", ev.Dataset, err)
		}
		if _, err := ev.MarshalJSON(); err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		return nil
	})
	f := newFlow(flowKey{}, &packetInfo{src: addrWords(netip.MustParseAddr("10.0.0.1")), dst: addrWords(netip.MustParseAddr("10.0.0.2")),
		sport: 40000, dport: 80, proto: protoTCP, ts: t0}, 0)
	c := &appConn{a: a, f: f, ts: t0}
	f.conn = c
	return c, st
}

// split cuts b into pieces whose sizes come from the bytes of sizes.
func split(b, sizes []byte) [][]byte {
	var out [][]byte
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(sizes) > 0 {
			n = min(n, int(sizes[i%len(sizes)])+1)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func FuzzHTTP(f *testing.F) {
	f.Add([]byte("GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
		[]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 204 No\r\n\r\n"), []byte{3, 200})
	f.Add([]byte("GET /HTTP/1.1\r\nHost: h\r\n\r\n"), []byte("<html>"), []byte{})
	f.Add([]byte("\xff\xff / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.0 400 Bad\r\n\r\n"), []byte{0})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"), []byte{1})
	f.Fuzz(func(t *testing.T, req, resp, sizes []byte) {
		c, _ := fuzzConn(t, DefaultConfig())
		c.f.app = appHTTP
		reqs, resps := split(req, sizes), split(resp, sizes)
		for i := 0; i < max(len(reqs), len(resps)); i++ {
			if i < len(reqs) {
				c.data(0, reqs[i])
			}
			if i < len(resps) {
				c.data(1, resps[i])
			}
		}
		if err := c.a.end(c.f); err != nil {
			t.Fatal(err)
		}
		if c.a.budget.used != 0 {
			t.Fatalf("budget holds %d bytes after the end", c.a.budget.used)
		}
	})
}

func FuzzTLSClientHello(f *testing.F) {
	f.Add(chrome.build(), []byte{})
	f.Add(chrome.build(), []byte{0, 4, 9})
	noExt := chrome
	noExt.extensions = nil
	f.Add(noExt.build(), []byte{1})
	f.Fuzz(func(t *testing.T, record, sizes []byte) {
		if len(record) > 9 {
			if h, err := parseClientHello(record[9:]); err == nil || h != nil {
				_, _ = h.ja3(), h.ja4()
			}
		}
		c, _ := fuzzConn(t, DefaultConfig())
		c.f.app = appTLS
		for _, piece := range split(record, sizes) {
			c.data(0, piece)
			c.data(1, piece) // the same bytes as a server's, for ServerHello and Certificate
		}
		if err := c.a.end(c.f); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzReassembly feeds segments whose sequence numbers, flags and
// lengths come from the input, and checks the caps hold.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0, 0, 1, 3, 'a', 'b', 'c', 0, 0, 4, 2, 'd', 'e'}, uint16(16))
	f.Add([]byte{0, 9, 0, 2, 'x', 'y', 0, 1, 0, 8, '1', '2', '3', '4', '5', '6', '7', '8'}, uint16(4))
	f.Fuzz(func(t *testing.T, in []byte, depth uint16) {
		var s stream
		var st Stats
		b := budget{limit: 64}
		sink := &recordSink{}
		for len(in) >= 4 {
			seq := uint32(in[0])<<8 | uint32(in[1])
			syn := in[2]&1 != 0
			n := min(int(in[3]), len(in)-4)
			s.add(0, seq, syn, in[4:4+n], int(depth), &b, &st, sink)
			if b.used > b.limit || s.held > int(depth) || len(s.ooo) > maxSegments {
				t.Fatalf("caps broken: used %d, held %d, %d segments", b.used, s.held, len(s.ooo))
			}
			in = in[4+n:]
		}
		if len(sink.got[0]) > int(depth) {
			t.Fatalf("delivered %d bytes past depth %d", len(sink.got[0]), depth)
		}
		s.finish(&b)
		if b.used != 0 {
			t.Fatalf("budget holds %d after finish", b.used)
		}
	})
}

// appCapture is a seed for FuzzDecode with an HTTP and a TLS connection.
func appCapture(t testing.TB) []byte {
	c := newCapture(t)
	httpExchange(c, 40001, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 7)
	c.tcpSeq(time.Millisecond, "10.0.0.1", 40002, "10.0.0.2", 443, "S", 0, nil)
	c.tcpSeq(time.Millisecond, "10.0.0.1", 40002, "10.0.0.2", 443, "PA", 1, chrome.build())
	return c.bytes()
}
