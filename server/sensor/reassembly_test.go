package sensor

import (
	"bytes"
	"testing"
	"time"
)

type recordSink struct {
	got  [2][]byte
	gaps int
}

func (r *recordSink) data(dir int, b []byte) bool {
	r.got[dir] = append(r.got[dir], b...)
	return true
}

func (r *recordSink) gap(int) { r.gaps++ }

func TestStreamReassembly(t *testing.T) {
	type seg struct {
		seq  uint32
		data string
	}
	const isn = 0xfffffff0 // sequence numbers wrap inside the stream
	for _, tc := range []struct {
		name     string
		segs     []seg
		depth    int
		memory   int
		want     string
		overlaps int64
		gaps     int64
	}{
		{name: "in order", segs: []seg{{1, "abc"}, {4, "def"}}, want: "abcdef"},
		{name: "out of order", segs: []seg{{4, "def"}, {7, "g"}, {1, "abc"}}, want: "abcdefg"},
		{name: "retransmission", segs: []seg{{1, "abc"}, {1, "abc"}, {4, "d"}}, want: "abcd", overlaps: 1},
		{name: "overlap keeps first copy", segs: []seg{{1, "abc"}, {2, "XYZw"}}, want: "abcZw", overlaps: 1},
		{name: "held segments overlap", segs: []seg{{5, "efg"}, {4, "DEF"}, {1, "abc"}}, want: "abcDEFg", overlaps: 1},
		{name: "depth cut", segs: []seg{{1, "abcdef"}, {7, "gh"}}, depth: 4, want: "abcd"},
		{name: "held past depth dropped", segs: []seg{{10, "zz"}, {1, "abc"}}, depth: 5, want: "abc"},
		{name: "memory cap gives up the gap", segs: []seg{{5, "efgh"}, {9, "ijkl"}, {1, "abcd"}}, memory: 6,
			want: "", gaps: 1},
		{name: "lying sequence far ahead", segs: []seg{{1 << 30, "x"}, {1, "ab"}}, want: "ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			depth, memory := tc.depth, tc.memory
			if depth == 0 {
				depth = 1 << 10
			}
			if memory == 0 {
				memory = 1 << 20
			}
			var s stream
			var st Stats
			b := budget{limit: memory}
			sink := &recordSink{}
			s.add(0, isn, true, nil, depth, &b, &st, sink)
			for _, sg := range tc.segs {
				s.add(0, isn+sg.seq, false, []byte(sg.data), depth, &b, &st, sink)
			}
			if got := string(sink.got[0]); got != tc.want {
				t.Errorf("stream = %q, want %q", got, tc.want)
			}
			if st.TCPOverlaps != tc.overlaps || st.TCPGaps != tc.gaps {
				t.Errorf("overlaps %d, gaps %d; want %d, %d", st.TCPOverlaps, st.TCPGaps, tc.overlaps, tc.gaps)
			}
			s.finish(&b)
			if b.used != 0 {
				t.Errorf("budget still holds %d bytes after finish", b.used)
			}
		})
	}
}

// TestReassemblyFlood sends many connections that each hold out-of-order
// data, and checks the global cap holds and is given back.
func TestReassemblyFlood(t *testing.T) {
	c := newCapture(t)
	for i := range 200 {
		port := uint16(20000 + i)
		c.tcpSeq(time.Microsecond, "10.0.0.1", port, "10.0.0.2", 443, "S", 0, nil)
		c.tcpSeq(time.Microsecond, "10.0.0.1", port, "10.0.0.2", 443, "PA", 100, bytes.Repeat([]byte{0x16}, 1000))
	}
	cfg := DefaultConfig()
	cfg.ReassemblyMemory = 50_000
	evs, st := decodeAll(t, c.bytes(), cfg)
	if st.TCPGaps == 0 || st.ReassemblyPeak == 0 || st.ReassemblyPeak > int64(cfg.ReassemblyMemory) {
		t.Errorf("with a %d byte cap: gaps %d, peak %d", cfg.ReassemblyMemory, st.TCPGaps, st.ReassemblyPeak)
	}
	if len(byDataset(evs, datasetTLS)) != 0 {
		t.Errorf("TLS records from connections without a hello")
	}
}

// TestFirstSegmentOutOfOrder checks that a connection whose first data
// segment arrives second is still recognised, from its bytes in order.
func TestFirstSegmentOutOfOrder(t *testing.T) {
	req := []byte("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
	resp := []byte("HTTP/1.1 204 No Content\r\n\r\n")
	c := newCapture(t)
	c.tcpSeq(time.Millisecond, "10.0.0.1", 40000, "10.0.0.2", 9999, "S", 999, nil)
	c.tcpSeq(time.Millisecond, "10.0.0.2", 9999, "10.0.0.1", 40000, "SA", 4999, nil)
	c.tcpSeq(time.Millisecond, "10.0.0.1", 40000, "10.0.0.2", 9999, "PA", 1004, req[4:])
	c.tcpSeq(time.Millisecond, "10.0.0.1", 40000, "10.0.0.2", 9999, "PA", 1000, req[:4])
	c.tcpSeq(time.Millisecond, "10.0.0.1", 40000, "10.0.0.2", 9999, "PA", 1000, req[:4]) // retransmitted
	c.tcpSeq(time.Millisecond, "10.0.0.2", 9999, "10.0.0.1", 40000, "PA", 5000, resp)
	evs, st := decodeAll(t, c.bytes(), DefaultConfig())
	http := byDataset(evs, datasetHTTP)
	if len(http) != 1 || http[0].String("url.original") != "/x" || http[0].Int("http.response.status_code") != 204 {
		t.Fatalf("HTTP records %v, stats %+v", http, st)
	}
	if st.TCPOverlaps != 1 {
		t.Errorf("TCPOverlaps = %d, want 1", st.TCPOverlaps)
	}
}
