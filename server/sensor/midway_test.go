package sensor

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"lachan/internal/event"
)

// trimCapture returns the capture without its first n packets.
func trimCapture(t *testing.T, data []byte, n int) []byte {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := pcapgo.NewWriter(&out)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		pkt, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= n {
			if err := w.WritePacket(ci, pkt); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out.Bytes()
}

// TestMidwayHTTP cuts the first packets off Zeek's HTTP GET trace (14
// packets: the handshake, the request in packet 3, the response in 5–8,
// the close) and checks that the connection is still oriented client to
// server, counts each side's packets as Zeek's conn.log would (Zeek takes
// port 80 for the server of a partial connection), and yields the
// request and response that the capture still holds.
func TestMidwayHTTP(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedData(t), "pcap", "zeek", "Traces", "http", "get.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	full, _ := decodeAll(t, data, DefaultConfig())
	fullHTTP := byDataset(full, datasetHTTP)
	if len(fullHTTP) != 1 {
		t.Fatalf("full trace: %d HTTP records, want 1", len(fullHTTP))
	}
	want := fullHTTP[0]
	for _, tc := range []struct {
		name             string
		cut              int
		srcPkts, dstPkts int64
		request          bool // the request is still in the capture
		response         bool
	}{
		{"after the SYN", 1, 6, 7, true, true},
		{"after the handshake", 3, 5, 6, true, true},
		{"server first", 4, 4, 6, false, true},
		{"inside the response", 6, 4, 4, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, st := decodeAll(t, trimCapture(t, data, tc.cut), DefaultConfig())
			flows := byDataset(evs, event.DatasetFlow)
			if len(flows) != 1 {
				t.Fatalf("%d flows, want 1", len(flows))
			}
			f := flows[0]
			if f.String("source.ip") != want.String("source.ip") || f.String("destination.port") != "80" {
				t.Errorf("flow %s, want it from the client %s to port 80", eventTuple(f), want.String("source.ip"))
			}
			if f.Int("source.packets") != tc.srcPkts || f.Int("destination.packets") != tc.dstPkts {
				t.Errorf("packets %d/%d, want %d/%d", f.Int("source.packets"), f.Int("destination.packets"), tc.srcPkts, tc.dstPkts)
			}
			if f.String("network.community_id") != want.String("network.community_id") {
				t.Errorf("community ID %s, the full trace's %s", f.String("network.community_id"), want.String("network.community_id"))
			}
			http := byDataset(evs, datasetHTTP)
			if !tc.request && !tc.response {
				if len(http) != 0 {
					t.Errorf("%d HTTP records from a capture without a message start", len(http))
				}
				return
			}
			if len(http) != 1 {
				t.Fatalf("%d HTTP records, want 1 (stats %+v)", len(http), st)
			}
			got := http[0]
			var fields []string
			if tc.request {
				fields = append(fields, "http.request.method", "url.original", "url.domain", "http.request.body.bytes")
			} else if got.String("http.request.method") != "" {
				t.Errorf("request method %q on a capture without the request", got.String("http.request.method"))
			}
			if tc.response {
				fields = append(fields, "http.response.status_code", "http.response.body.bytes")
			}
			for _, k := range fields {
				if got.String(k) != want.String(k) {
					t.Errorf("%s = %q, the full trace's %q", k, got.String(k), want.String(k))
				}
			}
		})
	}
}

func TestStartsHTTPMessage(t *testing.T) {
	for _, tt := range []struct {
		dir  int
		b    string
		want bool
	}{
		{0, "GET / HTTP/1.1\r\nHost: a\r\n", true},
		{0, "POST /x?a=b HTTP/1.0\n", true},
		{0, "GET / HTTP/1.1", false}, // the line may go on
		{0, "Some body text HTTP/1.1 here\r\n", false},
		{0, "the body goes on\r\n", false},
		{1, "HTTP/1.1 200 OK\r\n", true},
		{1, "HTTP/2 200\r\n", false},
		{1, "GET / HTTP/1.1\r\n", false},
	} {
		if got := startsHTTPMessage(tt.dir, []byte(tt.b)); got != tt.want {
			t.Errorf("startsHTTPMessage(%d, %q) = %v, want %v", tt.dir, tt.b, got, tt.want)
		}
	}
}
