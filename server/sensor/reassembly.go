package sensor

// streamSink receives the bytes of one direction of a TCP connection in
// order. data points into the packet or into the stream's buffers and is
// valid only during the call; it reports false when it wants no more
// bytes from that direction. gap says bytes were lost before the next
// data and ends the direction too.
type streamSink interface {
	data(dir int, b []byte) bool
	gap(dir int)
}

// maxSegments bounds the out-of-order segments one direction holds, so
// that a flood of one-byte segments costs a bounded amount of sorting.
const maxSegments = 64

type segment struct {
	seq  uint32
	data []byte
}

// stream reassembles one direction of a TCP connection up to depth bytes.
// Segments in order go straight from the packet to the sink; only
// out-of-order ones are copied, within the per-stream and global caps.
type stream struct {
	started bool
	done    bool   // depth reached, a gap, or the sink wants no more
	next    uint32 // sequence number of the next byte to deliver
	seen    int    // bytes delivered
	held    int    // bytes in ooo
	ooo     []segment
}

// budget is the reassembly memory shared by every stream of a capture.
type budget struct {
	limit int
	used  int
}

// seqDiff is a-b in sequence space, which wraps at 2^32.
func seqDiff(a, b uint32) int64 { return int64(int32(a - b)) }

// add takes one segment. A SYN fixes the initial sequence number; without
// one the stream starts at the first segment with data (a connection
// picked up midway).
func (s *stream) add(dir int, seq uint32, syn bool, payload []byte, depth int, b *budget, st *Stats, sink streamSink) {
	if syn {
		if !s.started {
			s.started, s.next = true, seq+1
		}
		seq++
	}
	if s.done || len(payload) == 0 {
		return
	}
	if !s.started {
		s.started, s.next = true, seq
	}
	d := seqDiff(seq, s.next)
	if d < 0 {
		// A retransmission or an overlap with bytes already delivered:
		// the first copy wins, as the receiving host's stack would have it.
		st.TCPOverlaps++
		if -d >= int64(len(payload)) {
			return
		}
		payload, d = payload[-d:], 0
	}
	if d > 0 {
		s.hold(dir, seq, payload, depth, b, st, sink)
		return
	}
	if !s.deliver(dir, payload, depth, sink) {
		s.finish(b)
		return
	}
	s.drain(dir, depth, b, st, sink)
}

// deliver hands in-order bytes to the sink, cut at depth.
func (s *stream) deliver(dir int, payload []byte, depth int, sink streamSink) bool {
	if room := depth - s.seen; len(payload) > room {
		payload = payload[:room]
	}
	s.next += uint32(len(payload))
	s.seen += len(payload)
	if len(payload) > 0 && !sink.data(dir, payload) {
		return false
	}
	return s.seen < depth
}

// hold keeps a segment that arrived ahead of a gap. When it does not fit
// the caps, the gap is given up on: the sink hears of it and the stream
// stops, so memory never grows past the caps.
func (s *stream) hold(dir int, seq uint32, payload []byte, depth int, b *budget, st *Stats, sink streamSink) {
	ahead := seqDiff(seq, s.next)
	if ahead >= int64(depth-s.seen) {
		return // starts past the depth: never delivered anyway
	}
	if room := int64(depth-s.seen) - ahead; int64(len(payload)) > room {
		payload = payload[:room]
	}
	if len(s.ooo) >= maxSegments || s.held+len(payload) > depth || b.used+len(payload) > b.limit {
		st.TCPGaps++
		sink.gap(dir)
		s.finish(b)
		return
	}
	i := len(s.ooo)
	for i > 0 && seqDiff(s.ooo[i-1].seq, seq) > 0 {
		i--
	}
	s.ooo = append(s.ooo, segment{})
	copy(s.ooo[i+1:], s.ooo[i:])
	s.ooo[i] = segment{seq: seq, data: append([]byte(nil), payload...)}
	s.held += len(payload)
	b.used += len(payload)
	st.ReassemblyPeak = max(st.ReassemblyPeak, int64(b.used))
}

// drain delivers the held segments that the stream has caught up with.
func (s *stream) drain(dir int, depth int, b *budget, st *Stats, sink streamSink) {
	for len(s.ooo) > 0 && !s.done {
		seg := s.ooo[0]
		d := seqDiff(seg.seq, s.next)
		if d > 0 {
			return
		}
		s.ooo = s.ooo[1:]
		s.held -= len(seg.data)
		b.used -= len(seg.data)
		data := seg.data
		if d < 0 {
			st.TCPOverlaps++
			if -d >= int64(len(data)) {
				continue
			}
			data = data[-d:]
		}
		if !s.deliver(dir, data, depth, sink) {
			s.finish(b)
		}
	}
}

// finish stops the stream and gives its memory back.
func (s *stream) finish(b *budget) {
	s.done = true
	b.used -= s.held
	s.held = 0
	s.ooo = nil
}
