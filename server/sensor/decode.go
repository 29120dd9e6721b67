package sensor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"lachan/internal/event"
)

// Stats counts what one Decode call saw and made.
type Stats struct {
	Packets        int64         // records read from the capture
	Bytes          int64         // captured bytes in those records
	Skipped        int64         // packets that carry no TCP, UDP or ICMP flow (ARP, STP, IPv6 fragments, unknown link types)
	DecodeErrors   int64         // packets or DNS payloads that failed to decode
	Errors         []PacketError // the first Config.MaxErrors decode errors
	Flows          int64         // network.flow events emitted
	FlowsEvicted   int64         // flows ended early because the flow table was full
	DNSRecords     int64         // network.dns events emitted
	DNSEvicted     int64         // unanswered DNS queries ended early because their table was full
	HTTPRecords    int64         // network.http events emitted
	TLSRecords     int64         // network.tls events emitted
	TCPOverlaps    int64         // TCP segments that overlapped bytes already reassembled (retransmissions included)
	TCPGaps        int64         // TCP streams given up because they did not fit the memory caps (a gap too wide, too many waiting requests)
	AppErrors      int64         // HTTP or TLS streams that stopped parsing at malformed data
	ReassemblyPeak int64         // most bytes held for reassembly at any one time

	Fragments        int64 // IPv4 and IPv6 fragments seen
	Fragments6       int64 // of which IPv6
	Reassembled      int64 // IPv4 datagrams reassembled from fragments (each counts as one packet of its flow)
	FragmentsDropped int64 // fragments given up: timed out, over the memory caps, inconsistent, or left at the end
}

// PacketError is a packet that could not be decoded.
type PacketError struct {
	Packet int64 // 1-based number of the packet in the capture
	Offset int64 // byte offset of its record in the uncompressed file; -1 when unknown (pcapng)
	Err    error
}

func (e PacketError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("packet %d: %v", e.Packet, e.Err)
	}
	return fmt.Sprintf("packet %d at byte offset %d: %v", e.Packet, e.Offset, e.Err)
}

func (e PacketError) Unwrap() error { return e.Err }

// DecodeFile decodes the capture at path; see Decode.
func DecodeFile(ctx context.Context, path string, cfg Config, emit func(event.Event) error) (Stats, error) {
	return DecodeFileRecords(ctx, path, cfg, EventSink(emit))
}

// DecodeFileRecords decodes the capture at path; see DecodeRecords.
func DecodeFileRecords(ctx context.Context, path string, cfg Config, out Sink) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, fmt.Errorf("sensor: %w", err)
	}
	defer f.Close()
	st, err := DecodeRecords(ctx, f, cfg, out)
	if err != nil {
		return st, fmt.Errorf("sensor: %s: %w", path, err)
	}
	return st, nil
}

// Decode reads a pcap or pcapng capture from r and calls emit for every
// flow and application record, in the order they end; flows are
// converted to events. See DecodeRecords.
func Decode(ctx context.Context, r io.Reader, cfg Config, emit func(event.Event) error) (Stats, error) {
	return DecodeRecords(ctx, r, cfg, EventSink(emit))
}

// DecodeRecords reads a pcap or pcapng capture from r and hands every
// record to out, in the order they end. Packets that fail to decode
// are counted in Stats and skipped; a capture cut off in the middle of a
// record ends the capture the same way. DecodeRecords returns an error
// when r is not a capture, when the capture is corrupt beyond the next
// record, when ctx is done, or when out fails; the Stats returned cover
// what was read.
func DecodeRecords(ctx context.Context, r io.Reader, cfg Config, out Sink) (Stats, error) {
	var st Stats
	if err := cfg.Validate(); err != nil {
		return st, err
	}
	src, err := openSource(r)
	if err != nil {
		return st, err
	}
	d := newDecoder(cfg, &st, out)
	for {
		if st.Packets&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		rec, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				d.packetError(st.Packets+1, rec.offset, fmt.Errorf("capture cut off in this record: %w", err))
				break
			}
			return st, PacketError{Packet: st.Packets + 1, Offset: rec.offset, Err: err}
		}
		st.Packets++
		st.Bytes += int64(len(rec.data))
		if err := d.packet(rec, st.Packets); err != nil {
			return st, err
		}
	}
	return st, d.flush()
}

// decoder holds the per-capture state. Its layers are reused for every
// packet, so nothing it decodes may be kept past the packet it came from.
type decoder struct {
	cfg     Config
	st      *Stats
	out     Sink
	flows   *flowTable
	dns     *dnsTracker
	apps    *apps
	defrag  *defragmenter
	decoded []gopacket.LayerType
	keepCID bool     // note the Community ID of each packet's flow, for a PacketSink
	hasCID  bool     // the last packet belonged to a flow, whose hash is cid
	cid     [20]byte // (valid when hasCID)

	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	loop  layers.Loopback
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	udp   layers.UDP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	msg   layers.DNS
}

func newDecoder(cfg Config, st *Stats, out Sink) *decoder {
	d := &decoder{cfg: cfg, st: st, out: out}
	d.flows = newFlowTable(cfg, st, d.emitFlow)
	d.dns = newDNSTracker(cfg, st, d.emitEvent)
	d.apps = newApps(cfg, st, d.emitEvent)
	d.apps.dns = d.dns
	d.flows.onEnd = d.apps.end
	d.defrag = newDefragmenter(cfg, st)
	return d
}

func (d *decoder) emitEvent(ev event.Event) error {
	if err := d.out.Event(ev); err != nil {
		return fmt.Errorf("emit %s event %s: %w", ev.Dataset, ev.ID, err)
	}
	return nil
}

func (d *decoder) emitFlow(f *Flow) error {
	if err := d.out.Flow(f); err != nil {
		return fmt.Errorf("emit %s flow %s: %w", event.DatasetFlow, f.CommunityID(), err)
	}
	return nil
}

func (d *decoder) packetError(num, offset int64, err error) {
	d.st.DecodeErrors++
	if len(d.st.Errors) < d.cfg.MaxErrors {
		d.st.Errors = append(d.st.Errors, PacketError{Packet: num, Offset: offset, Err: err})
	}
}

func (d *decoder) packet(rec record, num int64) error {
	d.hasCID = false
	ts := rec.ci.Timestamp
	if !validTime(ts) {
		// pcapng's 64-bit timestamps can name any year; flows keep their
		// times in Unix nanoseconds, which end in 2262.
		d.packetError(num, rec.offset, fmt.Errorf("timestamp %d s is outside the years 1970 to 2261", ts.Unix()))
		return nil
	}
	ns := ts.UnixNano()
	if err := d.flows.expire(ns); err != nil {
		return err
	}
	if err := d.dns.expire(ts); err != nil {
		return err
	}
	first, ok := firstLayer(rec.link, rec.data)
	if !ok {
		d.st.Skipped++
		return nil
	}
	if err := d.decodeLayers(first, rec.data); err != nil {
		d.packetError(num, rec.offset, err)
		return nil
	}
	if v := d.fragmentOf(); v != 0 {
		var whole []byte
		first := layers.LayerTypeIPv4
		if v == 4 {
			whole = d.fragment(ts)
		} else {
			first = layers.LayerTypeIPv6
			whole = d.fragment6(ts, num, rec.offset)
		}
		if whole == nil {
			return nil
		}
		if err := d.decodeLayers(first, whole); err != nil {
			d.packetError(num, rec.offset, fmt.Errorf("reassembled IPv%d datagram: %w", v, err))
			return nil
		}
	}
	var p packetInfo
	if !d.extract(&p) {
		d.st.Skipped++
		return nil
	}
	p.ts, p.ns = ts, ns
	f, err := d.flows.packet(&p)
	if err != nil {
		return err
	}
	if d.keepCID {
		d.hasCID, d.cid = true, f.cidHash
	}
	if p.proto == protoTCP {
		return d.apps.tcp(f, &p)
	}
	if p.proto != protoUDP || !d.isDNSPort(p.sport, p.dport) {
		return nil
	}
	if err := d.msg.DecodeFromBytes(p.payload, gopacket.NilDecodeFeedback); err != nil {
		d.packetError(num, rec.offset, fmt.Errorf("DNS payload: %w", err))
		return nil
	}
	f.sawDNS = true
	return d.dns.message(f, &p, &d.msg)
}

// Unix seconds of the first day of 1971 and of 2261 (UTC): a time between
// them is in the years 1970 to 2261 in UTC and in any real time zone.
const (
	unix1971 = 31536000
	unix2261 = 9183110400
)

// validTime reports whether ts falls in the years 1970 to 2261 (in its
// own location), the times flows can keep in Unix nanoseconds. The year
// takes a calendar computation, so it is asked only near the ends of the
// range or for a location that could be any offset (time.FixedZone).
func validTime(ts time.Time) bool {
	if loc := ts.Location(); loc == time.UTC || loc == time.Local {
		if s := ts.Unix(); s >= unix1971 && s < unix2261 {
			return true
		}
	}
	y := ts.Year()
	return y >= 1970 && y <= 2261
}

// fragmentOf reports whether decoding stopped at a fragment: 4 for an
// IPv4 one, 6 for an IPv6 fragment header (after the hop-by-hop options,
// if any), else 0.
func (d *decoder) fragmentOf() int {
	n := len(d.decoded)
	if n == 0 {
		return 0
	}
	switch d.decoded[n-1] {
	case layers.LayerTypeIPv4:
		if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
			return 4
		}
	case layers.LayerTypeIPv6:
		next := d.ip6.NextHeader
		if d.ip6.HopByHop != nil {
			next = d.ip6.HopByHop.NextHeader
		}
		if next == layers.IPProtocolIPv6Fragment {
			return 6
		}
	}
	return 0
}

// fragment6 reads the IPv6 fragment header just reached, hands the
// fragment to the defragmenter and returns the datagram it completes, if
// any: a 40-byte header naming the protocol after the fragment header, and
// the reassembled fragmentable part. Hop-by-hop options are not kept.
func (d *decoder) fragment6(ts time.Time, num, offset int64) []byte {
	ip := &d.ip6
	p := ip.Payload
	want := int(ip.Length)
	if ip.HopByHop != nil {
		want -= ip.HopByHop.ActualLength
	}
	if len(p) < 8 {
		d.packetError(num, offset, fmt.Errorf("IPv6 fragment header cut short: %d of 8 bytes", len(p)))
		return nil
	}
	d.st.Fragments6++
	if ip.Length != 0 && len(p) < want {
		// Cut short by the snapshot length: the datagram can never be whole.
		d.st.Fragments++
		d.defrag.drop(1)
		return nil
	}
	off := binary.BigEndian.Uint16(p[2:4])
	key := fragKey{id: binary.BigEndian.Uint32(p[4:8]), proto: p[0], v6: true}
	copy(key.src[:], ip.SrcIP)
	copy(key.dst[:], ip.DstIP)
	return d.defrag.fragment(ts, key, int(off>>3)*8, off&1 != 0, p[8:])
}

// fragment hands the IPv4 fragment just decoded to the defragmenter and
// returns the datagram it completes, if any.
func (d *decoder) fragment(ts time.Time) []byte {
	ip := &d.ip4
	if want := int(ip.Length) - int(ip.IHL)*4; len(ip.Payload) < want {
		// Cut short by the snapshot length: the datagram can never be whole.
		d.st.Fragments++
		d.defrag.drop(1)
		return nil
	}
	var key fragKey
	copy(key.src[:], ip.SrcIP)
	copy(key.dst[:], ip.DstIP)
	key.id, key.proto = uint32(ip.Id), uint8(ip.Protocol)
	return d.defrag.fragment(ts, key, int(ip.FragOffset)*8, ip.Flags&layers.IPv4MoreFragments != 0, ip.Payload)
}

func (d *decoder) isDNSPort(a, b uint16) bool {
	for _, p := range d.cfg.DNSPorts {
		if p == a || p == b {
			return true
		}
	}
	return false
}

// extract fills p from the layers just decoded; it reports false when the
// packet has no IP transport the sensor tracks. With tunnels the innermost
// IP header wins, since decodeLayers reuses one layer value per type.
func (d *decoder) extract(p *packetInfo) bool {
	var ipVersion int
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeIPv4:
			ipVersion = 4
		case layers.LayerTypeIPv6:
			ipVersion = 6
		case layers.LayerTypeTCP:
			p.proto = protoTCP
			p.sport, p.dport = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			p.tcpFlags = tcpFlags(&d.tcp)
			p.seq = d.tcp.Seq
			p.payload = d.tcp.Payload
		case layers.LayerTypeUDP:
			p.proto = protoUDP
			p.sport, p.dport = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			p.payload = d.udp.Payload
		case layers.LayerTypeICMPv4:
			p.proto = protoICMP
			p.icmpType, p.icmpCode = d.icmp4.TypeCode.Type(), d.icmp4.TypeCode.Code()
		case layers.LayerTypeICMPv6:
			p.proto = protoICMPv6
			p.icmpType, p.icmpCode = d.icmp6.TypeCode.Type(), d.icmp6.TypeCode.Code()
		}
	}
	if p.proto == 0 || ipVersion == 0 {
		return false
	}
	if p.proto == protoICMP || p.proto == protoICMPv6 {
		p.sport, p.dport, p.oneWay = icmpPorts(p.proto, p.icmpType, p.icmpCode)
	}
	var ok1, ok2 bool
	if ipVersion == 4 {
		p.src, ok1 = ipWords(d.ip4.SrcIP)
		p.dst, ok2 = ipWords(d.ip4.DstIP)
		p.ipBytes = int64(d.ip4.Length)
	} else {
		p.ipv6 = true
		p.src, ok1 = ipWords(d.ip6.SrcIP)
		p.dst, ok2 = ipWords(d.ip6.DstIP)
		p.ipBytes = 40 + int64(d.ip6.Length)
		if d.ip6.Length == 0 { // jumbogram: the payload was cut to its real length
			p.ipBytes = 40 + int64(len(d.ip6.Payload))
		}
	}
	return ok1 && ok2
}

// packetInfo is what the flow table and the DNS tracker need of a packet.
// payload points into the capture buffer and is valid for this packet only.
type packetInfo struct {
	ts           time.Time
	ns           int64   // ts in Unix nanoseconds, as the flow table keeps times
	src, dst     addr128 // as addrWords gives them; ipv6 tells the family
	sport, dport uint16  // for ICMP, the type and its counterpart type or code
	proto        uint8
	ipv6         bool
	oneWay       bool // ICMP message without a reply type: direction matters
	ipBytes      int64
	tcpFlags     uint8
	icmpType     uint8
	icmpCode     uint8
	seq          uint32 // TCP sequence number
	payload      []byte
}

func tcpFlags(t *layers.TCP) uint8 {
	return bit(t.FIN, flagFIN) | bit(t.SYN, flagSYN) | bit(t.RST, flagRST) | bit(t.PSH, flagPSH) |
		bit(t.ACK, flagACK) | bit(t.URG, flagURG) | bit(t.ECE, flagECE) | bit(t.CWR, flagCWR)
}

func bit(set bool, flag uint8) uint8 {
	if set {
		return flag
	}
	return 0
}

// flush ends everything still open when the capture ends.
func (d *decoder) flush() error {
	d.defrag.flush()
	if err := d.dns.flushAll(); err != nil {
		return err
	}
	return d.flows.flushAll()
}
