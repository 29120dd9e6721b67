package sensor

import (
	"bytes"
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"

	"lachan/internal/event"
)

// Application protocols recognised on a TCP connection.
const (
	appUnknown uint8 = iota // nothing seen yet
	appNone                 // neither HTTP nor TLS: not reassembled
	appHTTP
	appTLS
	appDNS
)

// appConn is the application-layer state of one TCP connection. It is
// made for a flow whose first payload looks like HTTP or TLS, and lives
// as long as the flow.
type appConn struct {
	a      *apps
	f      *flow
	ts     time.Time // time of the packet being reassembled
	stream [2]stream
	http   *httpConn
	tls    *tlsConn
	dns    *dnsConn
	held   int // buffer capacity the parsers hold, counted in the budget
}

// apps is the per-capture state of the application parsers.
type apps struct {
	cfg    Config
	st     *Stats
	budget budget
	emit   func(event.Event) error
	err    error // the first emit error, reported after the packet
	dns    *dnsTracker
	msg    layers.DNS // reused for every DNS message over TCP
}

func newApps(cfg Config, st *Stats, emit func(event.Event) error) *apps {
	return &apps{cfg: cfg, st: st, budget: budget{limit: cfg.ReassemblyMemory}, emit: emit}
}

// sniff tells from the first payload of a connection which parser, if
// any, should see it. dir 0 is the initiator.
// A segment too short to tell counts as a match when it is a prefix of
// one.
func sniff(dir int, b []byte) uint8 {
	if len(b) > 0 && b[0] == 0x16 && (len(b) < 2 || b[1] == 3) && (len(b) < 3 || b[2] <= 4) {
		return appTLS
	}
	if dir == 1 {
		if bytes.HasPrefix(b, []byte("HTTP/")) {
			return appHTTP
		}
		return appNone
	}
	// A request line starts with a token and a space; an upper-case
	// letter first keeps binary protocols out.
	if len(b) == 0 || b[0] < 'A' || b[0] > 'Z' {
		return appNone
	}
	for i, c := range b {
		if c == ' ' && i > 0 {
			return appHTTP
		}
		if !isTokenChar(c) || i > 24 {
			return appNone
		}
	}
	return appHTTP
}

// sniff is the package sniff, with the server ports of Config.HTTPPorts
// taken as HTTP whatever their content, unless it starts like a TLS
// record (TLS on a web port, or a capture that missed the handshake).
func (a *apps) sniff(f *flow, dir int, b []byte) uint8 {
	if slices.Contains(a.cfg.DNSPorts, f.dport) || slices.Contains(a.cfg.DNSPorts, f.sport) {
		return appDNS
	}
	app := sniff(dir, b)
	if app == appNone && len(b) > 0 && (b[0] < recChangeCipherSpec || b[0] > recHeartbeat) &&
		slices.Contains(a.cfg.HTTPPorts, f.dport) {
		return appHTTP
	}
	return app
}

// maxHunt is how many payloads of a connection picked up midway are
// looked at for the start of a message before it is given up.
const maxHunt = 16

// sniffMidway is sniff for a connection whose SYN the capture missed: its
// first payload may be anywhere in a message, so HTTP is taken only from
// a segment that starts with a request line ending in HTTP/1.x (from the
// initiator) or a status line (from the responder), whatever the port,
// and TLS only from a handshake record. It returns appUnknown to be asked
// again with the next payload, up to maxHunt payloads, then appNone.
func (a *apps) sniffMidway(f *flow, dir int, b []byte) uint8 {
	if slices.Contains(a.cfg.DNSPorts, f.dport) || slices.Contains(a.cfg.DNSPorts, f.sport) {
		return appDNS
	}
	if sniff(dir, b) == appTLS || startsHTTPMessage(dir, b) {
		return sniff(dir, b)
	}
	if f.hunted++; f.hunted >= maxHunt {
		return appNone
	}
	return appUnknown
}

// startsHTTPMessage reports whether b starts with a whole HTTP/1.x request
// line (dir 0) or status line (dir 1).
func startsHTTPMessage(dir int, b []byte) bool {
	if dir == 1 {
		return bytes.HasPrefix(b, []byte("HTTP/1.")) && len(b) > 8 && b[8] == ' '
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 || sniff(0, b) != appHTTP {
		return false
	}
	line := bytes.TrimSuffix(b[:i], []byte("\r"))
	sp := bytes.LastIndexByte(line, ' ')
	return sp > 0 && bytes.HasPrefix(line[sp+1:], []byte("HTTP/1.")) && len(line) == sp+9
}

// tcp feeds one TCP segment of flow f to the application parsers.
func (a *apps) tcp(f *flow, p *packetInfo) error {
	if a.cfg.StreamDepth == 0 || f.app == appNone {
		return nil
	}
	dir := f.dir(p)
	if f.conn == nil {
		if !a.start(f, p, dir) {
			return nil
		}
	}
	c := f.conn
	c.ts = p.ts
	c.stream[dir].add(dir, p.seq, p.tcpFlags&flagSYN != 0, p.payload, a.cfg.StreamDepth, &a.budget, a.st, c)
	err := a.err
	a.err = nil
	return err
}

// start makes the connection state when the first payload comes, so that
// the many connections that are neither HTTP nor TLS cost no allocation.
// Until then only the initial sequence numbers from the SYNs are kept.
func (a *apps) start(f *flow, p *packetInfo, dir int) bool {
	syn := p.tcpFlags&flagSYN != 0
	if len(p.payload) == 0 {
		if syn {
			f.isn[dir], f.synSeen[dir] = p.seq+1, true
		}
		return false
	}
	if !syn && !f.synSeen[0] && !f.synSeen[1] {
		// Picked up midway: wait for a segment that starts a message.
		if f.app = a.sniffMidway(f, dir, p.payload); f.app == appUnknown || f.app == appNone {
			return false
		}
	} else if inOrder := syn || !f.synSeen[dir] || p.seq == f.isn[dir]; inOrder {
		// A first segment that arrived out of order cannot be sniffed; the
		// stream decides once the bytes before it arrive.
		if f.app = a.sniff(f, dir, p.payload); f.app == appNone {
			return false
		}
	}
	c := &appConn{a: a, f: f}
	for d := range 2 {
		if f.synSeen[d] {
			c.stream[d].started, c.stream[d].next = true, f.isn[d]
		}
	}
	f.conn = c
	return true
}

func (c *appConn) data(dir int, b []byte) bool {
	if c.f.app == appUnknown {
		// The first segment came out of order; the first bytes in order
		// decide the parser.
		if c.f.app = c.a.sniff(c.f, dir, b); c.f.app == appNone {
			c.stream[1-dir].finish(&c.a.budget)
			return false
		}
	}
	switch c.f.app {
	case appHTTP:
		if c.http == nil {
			c.http = &httpConn{c: c}
		}
		return c.http.data(dir, b)
	case appTLS:
		if c.tls == nil {
			c.tls = &tlsConn{c: c}
		}
		return c.tls.data(dir, b)
	case appDNS:
		if c.dns == nil {
			c.dns = &dnsConn{c: c}
		}
		return c.dns.data(dir, b)
	}
	return false
}

func (c *appConn) gap(dir int) {
	switch {
	case c.http != nil:
		c.http.gap(dir)
	case c.tls != nil:
		c.tls.gap(dir)
	case c.dns != nil:
		c.dns.gap(dir)
	}
}

// emit sends an application record, keeping the first error for tcp to
// return, since the stream callbacks cannot.
func (c *appConn) emit(ev event.Event) {
	if c.a.err != nil {
		return
	}
	if ev.Dataset == datasetHTTP {
		c.a.st.HTTPRecords++
	} else {
		c.a.st.TLSRecords++
	}
	c.a.err = c.a.emit(ev)
}

// end emits what the connection still holds, when its flow ends.
func (a *apps) end(f *flow) error {
	c := f.conn
	if c == nil {
		return nil
	}
	c.stream[0].finish(&a.budget)
	c.stream[1].finish(&a.budget)
	if c.http != nil {
		c.http.end()
	}
	if c.tls != nil {
		c.tls.end()
	}
	if c.dns != nil {
		c.dns.end()
	}
	a.budget.used -= c.held
	c.held = 0
	f.conn = nil
	err := a.err
	a.err = nil
	return err
}

// appendHeld appends b to a parser's buffer, counting its growth against
// the reassembly budget; ok is false, and buf unchanged, when the budget
// cannot take it.
func (c *appConn) appendHeld(buf, b []byte) ([]byte, bool) {
	if len(buf)+len(b) <= cap(buf) {
		return append(buf, b...), true
	}
	need := len(buf) + len(b)
	newCap := max(need, 2*cap(buf), 512)
	if c.a.budget.used+newCap-cap(buf) > c.a.budget.limit {
		newCap = need
		if c.a.budget.used+newCap-cap(buf) > c.a.budget.limit {
			return buf, false
		}
	}
	grown := make([]byte, need, newCap)
	copy(grown[copy(grown, buf):], b)
	c.a.budget.used += newCap - cap(buf)
	c.held += newCap - cap(buf)
	c.a.st.ReassemblyPeak = max(c.a.st.ReassemblyPeak, int64(c.a.budget.used))
	return grown, true
}

// hold counts n bytes a parser keeps against the budget; it reports
// false, counting nothing, when they do not fit.
func (c *appConn) hold(n int) bool {
	if c.a.budget.used+n > c.a.budget.limit {
		return false
	}
	c.a.budget.used += n
	c.held += n
	c.a.st.ReassemblyPeak = max(c.a.st.ReassemblyPeak, int64(c.a.budget.used))
	return true
}

func (c *appConn) release(n int) {
	c.a.budget.used -= n
	c.held -= n
}

// appEvent starts an application record on flow f.
func appEvent(f *flow, dataset, protocol string, ts time.Time, idParts ...string) event.Event {
	ev := event.Event{
		ID:        event.DeriveTimedID(ts, append([]string{protocol, f.cid()}, idParts...)...),
		Timestamp: ts.UTC(),
		Dataset:   dataset,
		Fields:    make(map[string]any, 32),
	}
	setEndpoints(&ev, f)
	ev.Set("network.protocol", protocol)
	ev.Set("event.kind", "event")
	ev.Set("event.category", "network")
	ev.Set("event.type", "protocol")
	return ev
}

func isTokenChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return false
	}
	return true
}
