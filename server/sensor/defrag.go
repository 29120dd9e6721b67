package sensor

import (
	"encoding/binary"
	"time"
)

// Bounds of reassembly that follow from the protocols.
const (
	maxIPv4Datagram = 65535
	ipv4HeaderLen   = 20 // the header a reassembled IPv4 datagram is given
	maxIPv6Payload  = 65535
	ipv6HeaderLen   = 40
)

// fragKey identifies the fragments of one datagram: IPv4 by addresses,
// protocol and 16-bit identification (RFC 791), IPv6 by addresses and
// 32-bit identification (RFC 8200 §4.5), with proto the next header after
// the fragment header. IPv4 addresses fill the first 4 bytes.
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	v6       bool
}

// maxPayload is the largest payload the reassembled datagram can carry.
func (k fragKey) maxPayload() int {
	if k.v6 {
		return maxIPv6Payload
	}
	return maxIPv4Datagram - ipv4HeaderLen
}

// fragSpan is a run of payload bytes [start, end) already received.
type fragSpan struct{ start, end int }

// fragDatagram is a datagram being reassembled. buf holds the payload
// received so far at its offsets; total is the payload length once the
// last fragment (MF clear) has been seen, else -1.
type fragDatagram struct {
	key   fragKey
	first time.Time
	buf   []byte
	spans []fragSpan
	total int
	frags int // fragments stored
	done  bool
}

// defragmenter reassembles IPv4 and IPv6 datagrams within Config.DefragMemory
// bytes and Config.DefragDatagrams datagrams in flight, waiting at most
// Config.DefragTimeout (packet time) for the missing pieces. Everything
// that does not fit is dropped and counted, never held.
type defragmenter struct {
	cfg     Config
	st      *Stats
	pending map[fragKey]*fragDatagram
	queue   []*fragDatagram // arrival order, for expiry
	used    int             // payload bytes held
	out     []byte          // the last reassembled datagram; reused
}

func newDefragmenter(cfg Config, st *Stats) *defragmenter {
	return &defragmenter{cfg: cfg, st: st, pending: make(map[fragKey]*fragDatagram)}
}

// fragment takes one fragment: the IPv4 header fields that matter and its
// payload (which points into the packet). When the fragment completes a
// datagram it returns the whole datagram, header and payload, in a buffer
// the defragmenter owns until the next call; otherwise nil.
func (d *defragmenter) fragment(now time.Time, key fragKey, offset int, more bool, payload []byte) []byte {
	d.st.Fragments++
	d.expire(now)
	end := offset + len(payload)
	if end > key.maxPayload() || (!more && len(payload) == 0 && offset == 0) {
		d.drop(1)
		return nil
	}
	dg := d.pending[key]
	if dg == nil {
		if len(d.pending) >= d.cfg.DefragDatagrams {
			d.evictOldest()
		}
		dg = &fragDatagram{key: key, first: now, total: -1}
		d.pending[key] = dg
		d.queue = append(d.queue, dg)
	}
	if !more {
		if dg.total >= 0 && dg.total != end || dg.maxEnd() > end {
			d.discard(dg, 1) // two different ends: no consistent datagram
			return nil
		}
		dg.total = end
	} else if dg.total >= 0 && end > dg.total {
		d.discard(dg, 1)
		return nil
	}
	if !d.store(dg, offset, payload) {
		d.discard(dg, 1)
		return nil
	}
	if dg.total < 0 || len(dg.spans) != 1 || dg.spans[0].start != 0 || dg.spans[0].end != dg.total {
		return nil
	}
	d.st.Reassembled++
	d.out = assemble(d.out[:0], key, dg.buf[:dg.total])
	d.remove(dg)
	return d.out
}

func (dg *fragDatagram) maxEnd() int {
	if len(dg.spans) == 0 {
		return 0
	}
	return dg.spans[len(dg.spans)-1].end
}

// store copies the bytes of payload that no earlier fragment gave: the
// first copy of a byte wins, as with TCP, so overlapping fragments cannot
// rewrite what was already accepted.
func (d *defragmenter) store(dg *fragDatagram, offset int, payload []byte) bool {
	end := offset + len(payload)
	if end > len(dg.buf) {
		grow := end - len(dg.buf)
		if end > cap(dg.buf) {
			grow = max(end, min(2*cap(dg.buf), maxIPv6Payload)) - cap(dg.buf)
			if d.used+grow > d.cfg.DefragMemory {
				return false
			}
			nb := make([]byte, end, cap(dg.buf)+grow)
			copy(nb, dg.buf)
			dg.buf = nb
			d.used += grow
		} else {
			dg.buf = dg.buf[:end]
		}
	}
	pos := offset
	for _, s := range dg.spans {
		if s.end <= pos {
			continue
		}
		if s.start >= end {
			break
		}
		if s.start > pos {
			copy(dg.buf[pos:s.start], payload[pos-offset:])
		}
		pos = max(pos, s.end)
	}
	if pos < end {
		copy(dg.buf[pos:end], payload[pos-offset:])
	}
	dg.spans = mergeSpan(dg.spans, fragSpan{offset, end})
	dg.frags++
	return true
}

// mergeSpan adds s to the sorted, disjoint spans, joining what touches.
func mergeSpan(spans []fragSpan, s fragSpan) []fragSpan {
	out := spans[:0:0]
	i := 0
	for ; i < len(spans) && spans[i].end < s.start; i++ {
		out = append(out, spans[i])
	}
	for ; i < len(spans) && spans[i].start <= s.end; i++ {
		s.start, s.end = min(s.start, spans[i].start), max(s.end, spans[i].end)
	}
	out = append(out, s)
	return append(out, spans[i:]...)
}

// assemble writes a header without fragmentation fields — IPv4's 20
// bytes, or IPv6's 40 naming the protocol after the fragment header — and
// the payload, into buf.
func assemble(buf []byte, key fragKey, payload []byte) []byte {
	if key.v6 {
		var h [ipv6HeaderLen]byte
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
		h[6] = key.proto
		h[7] = 64
		copy(h[8:24], key.src[:])
		copy(h[24:40], key.dst[:])
		buf = append(buf, h[:]...)
		return append(buf, payload...)
	}
	var h [ipv4HeaderLen]byte
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(ipv4HeaderLen+len(payload)))
	binary.BigEndian.PutUint16(h[4:], uint16(key.id))
	h[8] = 64
	h[9] = key.proto
	copy(h[12:16], key.src[:4])
	copy(h[16:20], key.dst[:4])
	buf = append(buf, h[:]...)
	return append(buf, payload...)
}

// drop counts n fragments given up on.
func (d *defragmenter) drop(n int) { d.st.FragmentsDropped += int64(n) }

// discard gives up a datagram; extra counts the fragment in hand.
func (d *defragmenter) discard(dg *fragDatagram, extra int) {
	d.drop(dg.frags + extra)
	d.remove(dg)
}

func (d *defragmenter) remove(dg *fragDatagram) {
	dg.done = true
	d.used -= cap(dg.buf)
	dg.buf, dg.spans = nil, nil
	delete(d.pending, dg.key)
}

func (d *defragmenter) evictOldest() {
	for len(d.queue) > 0 {
		dg := d.queue[0]
		d.queue = d.queue[1:]
		if !dg.done {
			d.discard(dg, 0)
			return
		}
	}
}

// expire gives up datagrams that have waited DefragTimeout, and drops the
// finished ones from the head of the queue.
func (d *defragmenter) expire(now time.Time) {
	for len(d.queue) > 0 {
		dg := d.queue[0]
		if !dg.done && now.Sub(dg.first) < d.cfg.DefragTimeout {
			return
		}
		d.queue = d.queue[1:]
		if !dg.done {
			d.discard(dg, 0)
		}
	}
}

// flush counts what is still waiting when the capture ends as dropped.
func (d *defragmenter) flush() {
	for _, dg := range d.queue {
		if !dg.done {
			d.discard(dg, 0)
		}
	}
	d.queue = nil
}
