package sensor

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
)

// minDNSMessage is the length of a DNS header; a framed message shorter
// than that says the framing is not DNS (or has been lied about).
const minDNSMessage = 12

// dnsHalf is one direction of DNS over TCP: a run of messages, each
// preceded by its length in two bytes (RFC 1035 4.2.2, RFC 7766).
type dnsHalf struct {
	buf     []byte // a frame split across segments, length prefix included
	stopped bool
}

// dnsConn parses DNS over one reassembled TCP connection. Messages go to
// the same tracker as DNS over UDP, so queries and answers pair alike.
type dnsConn struct {
	c    *appConn
	half [2]dnsHalf
}

// frameLen is the length a frame's two-byte prefix gives, prefix included.
func frameLen(b []byte) int { return 2 + int(binary.BigEndian.Uint16(b)) }

func (d *dnsConn) data(dir int, b []byte) bool {
	h := &d.half[dir]
	for len(b) > 0 && !h.stopped {
		if len(h.buf) == 0 && len(b) >= 2 && len(b) >= frameLen(b) {
			// A whole frame in this segment: parse it in place.
			n := frameLen(b)
			if !d.message(dir, b[2:n]) {
				return d.stop(dir)
			}
			b = b[n:]
			continue
		}
		want := 2
		if len(h.buf) >= 2 {
			want = frameLen(h.buf)
		}
		take := min(want-len(h.buf), len(b))
		var ok bool
		if h.buf, ok = d.c.appendHeld(h.buf, b[:take]); !ok {
			return d.stop(dir)
		}
		b = b[take:]
		if len(h.buf) == 2 && frameLen(h.buf)-2 < minDNSMessage {
			d.c.a.st.AppErrors++
			return d.stop(dir)
		}
		if len(h.buf) >= 2 && len(h.buf) == frameLen(h.buf) {
			if !d.message(dir, h.buf[2:]) {
				return d.stop(dir)
			}
			h.buf = h.buf[:0]
		}
	}
	return !h.stopped
}

// message decodes one framed message and hands it to the DNS tracker. It
// reports false when the message is malformed: the framing after it
// cannot be trusted either, so the direction stops.
func (d *dnsConn) message(dir int, b []byte) bool {
	a := d.c.a
	if len(b) < minDNSMessage {
		a.st.AppErrors++
		return false
	}
	if err := a.msg.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		a.st.AppErrors++
		return false
	}
	f := d.c.f
	p := packetInfo{ts: d.c.ts, ns: d.c.ts.UnixNano(), src: f.srcWords(), dst: f.dstWords(), sport: f.sport, dport: f.dport, proto: protoTCP}
	if dir == 1 {
		p.src, p.dst, p.sport, p.dport = p.dst, p.src, f.dport, f.sport
	}
	f.sawDNS = true
	if a.err == nil {
		a.err = a.dns.message(f, &p, &a.msg)
	}
	return true
}

func (d *dnsConn) stop(dir int) bool {
	d.half[dir].stopped = true
	d.half[dir].buf = nil
	return false
}

func (d *dnsConn) gap(dir int) { d.stop(dir) }

// end counts a message cut off by the end of the connection (a length
// that promised more than came) as malformed.
func (d *dnsConn) end() {
	for dir := range d.half {
		if len(d.half[dir].buf) > 0 {
			d.c.a.st.AppErrors++
		}
	}
}
