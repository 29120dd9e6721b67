package sensor

import (
	"strings"
	"testing"
	"time"
)

// httpExchange writes one connection: the client sends req, the server
// answers resp, each in segments of at most size bytes.
func httpExchange(c *capture, port uint16, req, resp string, size int) {
	c.tcpSeq(time.Millisecond, "10.0.0.1", port, "10.0.0.2", 8081, "S", 0, nil)
	c.tcpSeq(time.Millisecond, "10.0.0.2", 8081, "10.0.0.1", port, "SA", 0, nil)
	for dir, msg := range []string{req, resp} {
		seq := uint32(1)
		for off := 0; off < len(msg); off += size {
			end := min(off+size, len(msg))
			if dir == 0 {
				c.tcpSeq(time.Millisecond, "10.0.0.1", port, "10.0.0.2", 8081, "PA", seq, []byte(msg[off:end]))
			} else {
				c.tcpSeq(time.Millisecond, "10.0.0.2", 8081, "10.0.0.1", port, "PA", seq, []byte(msg[off:end]))
			}
			seq += uint32(end - off)
		}
	}
}

func TestHTTP(t *testing.T) {
	type want struct {
		method, uri, path, query, domain, ua, respType string
		status, reqBody, respBody                      int64
	}
	for _, tc := range []struct {
		name      string
		req, resp string
		want      []want
	}{
		{
			name: "pipelined with chunked, HEAD and 100-continue",
			req: "GET /a?x=1 HTTP/1.1\r\nHost: example.org:8081\r\nUser-Agent: t/1\r\n\r\n" +
				"HEAD /b HTTP/1.1\r\nHost: example.org\r\n\r\n" +
				"POST http://example.org/c HTTP/1.1\r\nHost: example.org\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
			resp: "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n" +
				"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
			want: []want{
				{method: "GET", uri: "/a?x=1", path: "/a", query: "x=1", domain: "example.org", ua: "t/1", respType: "text/html", status: 200, respBody: 7},
				{method: "HEAD", uri: "/b", path: "/b", domain: "example.org", status: 200},
				{method: "POST", uri: "http://example.org/c", path: "/c", domain: "example.org", status: 201, reqBody: 5, respBody: 2},
			},
		},
		{
			name: "body to the close",
			req:  "GET / HTTP/1.0\n\n",
			resp: "HTTP/1.0 404 Not Found\nContent-Type: text/plain\n\nnothing here",
			want: []want{{method: "GET", uri: "/", path: "/", respType: "text/plain", status: 404, respBody: 12}},
		},
	} {
		for _, size := range []int{1, 3, 10000} {
			c := newCapture(t)
			httpExchange(c, 40000, tc.req, tc.resp, size)
			evs, _ := decodeAll(t, c.bytes(), DefaultConfig())
			got := byDataset(evs, datasetHTTP)
			if len(got) != len(tc.want) {
				t.Fatalf("%s, segments of %d: %d records, want %d", tc.name, size, len(got), len(tc.want))
			}
			for i, w := range tc.want {
				ev := got[i]
				g := want{method: ev.String("http.request.method"), uri: ev.String("url.original"), path: ev.String("url.path"),
					query: ev.String("url.query"), domain: ev.String("url.domain"), ua: ev.String("user_agent.original"),
					respType: ev.String("http.response.mime_type"), status: ev.Int("http.response.status_code"),
					reqBody: ev.Int("http.request.body.bytes"), respBody: ev.Int("http.response.body.bytes")}
				if g != w {
					t.Errorf("%s, segments of %d, record %d:\n got %+v\nwant %+v", tc.name, size, i, g, w)
				}
				if ev.String("network.community_id") == "" || ev.String("source.ip") != "10.0.0.1" {
					t.Errorf("%s: record %d lacks endpoints", tc.name, i)
				}
			}
		}
	}
}

// TestHTTPHostile checks that oversized headers and lying lengths end the
// parse of a direction without records or memory beyond the caps.
func TestHTTPHostile(t *testing.T) {
	for _, tc := range []struct {
		name, req, resp string
		records         int
		appErrors       int64
	}{
		{name: "endless header", req: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 40<<10), records: 0, appErrors: 1},
		{name: "negative length", req: "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
			resp: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", records: 2},
		{name: "huge chunk", req: "GET / HTTP/1.1\r\n\r\n",
			resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nabc", records: 1},
		{name: "CONNECT tunnel", req: "CONNECT example.org:443 HTTP/1.1\r\n\r\n\x16\x03\x01\x00\x01\x01",
			resp: "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x01\x02", records: 1},
		{name: "bad chunk size", req: "GET / HTTP/1.1\r\n\r\n",
			resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", records: 1, appErrors: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapture(t)
			httpExchange(c, 40000, tc.req, tc.resp, 1400)
			evs, st := decodeAll(t, c.bytes(), DefaultConfig())
			if got := len(byDataset(evs, datasetHTTP)); got != tc.records || st.AppErrors != tc.appErrors {
				t.Errorf("%d records, %d app errors; want %d, %d", got, st.AppErrors, tc.records, tc.appErrors)
			}
			if st.ReassemblyPeak > 64<<10 {
				t.Errorf("held %d bytes at peak", st.ReassemblyPeak)
			}
		})
	}
}
