package sensor

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const datasetHTTP = "network.http"

const (
	maxHTTPHeader  = 16 << 10 // a header block or chunk line longer than this ends the direction
	maxHTTPPending = 32       // pipelined requests waiting for their responses
	maxFieldBytes  = 8 << 10  // longest string value an HTTP or TLS field keeps
)

// States of one direction of an HTTP connection.
const (
	hsHeader     uint8 = iota // reading a request or status line and headers
	hsBody                    // counting a body of known length
	hsChunkSize               // reading a chunk-size line
	hsChunkData               // counting chunk data
	hsChunkEnd                // reading the CRLF after chunk data
	hsTrailer                 // reading trailer lines after the last chunk
	hsUntilClose              // the body runs to the end of the connection
	hsDead                    // nothing more is parsed in this direction
)

// httpTxn is one request and its response, as far as each was seen.
type httpTxn struct {
	ts                       time.Time
	method, uri, version     string
	host, userAgent, reqType string
	reqBody                  int64
	http09, bad              bool
	hasReq, hasResp          bool
	status                   int
	respVersion, respType    string
	respBody                 int64
	held                     int // bytes counted in the reassembly budget
}

type httpHalf struct {
	state uint8
	buf   []byte   // a header block or line split across segments
	left  int64    // bytes left of the body or chunk
	txn   *httpTxn // the message whose body is being counted
}

// httpConn parses HTTP/1.x in both directions of a connection and pairs
// responses with requests in order, which also pairs pipelined requests.
type httpConn struct {
	c       *appConn
	half    [2]httpHalf
	pending []*httpTxn // requests in order; the first one is answered next
	emitted int
}

func (h *httpConn) data(dir int, b []byte) bool {
	hh := &h.half[dir]
	for len(b) > 0 {
		var n int
		switch hh.state {
		case hsHeader:
			n = h.header(dir, b)
		case hsBody, hsChunkData:
			n = int(min(hh.left, int64(len(b))))
			hh.count(dir, n)
			if hh.left -= int64(n); hh.left == 0 {
				if hh.state == hsBody {
					h.messageDone(dir)
				} else {
					hh.state = hsChunkEnd
				}
			}
		case hsChunkSize, hsChunkEnd, hsTrailer:
			n = h.chunkLine(dir, b)
		case hsUntilClose:
			hh.count(dir, len(b))
			return true
		default:
			return false
		}
		b = b[n:]
	}
	return hh.state != hsDead
}

func (hh *httpHalf) count(dir, n int) {
	if hh.txn == nil {
		return
	}
	if dir == 0 {
		hh.txn.reqBody += int64(n)
	} else {
		hh.txn.respBody += int64(n)
	}
}

// fail stops parsing one direction at malformed data.
func (h *httpConn) fail(dir int) {
	h.half[dir].state = hsDead
	h.half[dir].buf = nil
	h.c.a.st.AppErrors++
}

func (h *httpConn) gap(dir int) {
	h.half[dir].state = hsDead
	h.half[dir].buf = nil
}

// line returns the next line of b, joined to what buf holds from earlier
// segments, and how many bytes of b it used; ok is false while the line
// is incomplete.
func (h *httpConn) line(dir int, b []byte) (line []byte, n int, ok bool) {
	hh := &h.half[dir]
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(hh.buf)+len(b) > maxHTTPHeader {
			h.fail(dir)
			return nil, len(b), false
		}
		if hh.buf, ok = h.c.appendHeld(hh.buf, b); !ok {
			h.fail(dir)
		}
		return nil, len(b), false
	}
	line = b[:i]
	if len(hh.buf) > 0 {
		if hh.buf, ok = h.c.appendHeld(hh.buf, line); !ok {
			h.fail(dir)
			return nil, i + 1, false
		}
		line, hh.buf = hh.buf, hh.buf[:0]
	}
	return bytes.TrimSuffix(line, []byte("\r")), i + 1, true
}

func (h *httpConn) chunkLine(dir int, b []byte) int {
	hh := &h.half[dir]
	line, n, ok := h.line(dir, b)
	if !ok {
		return n
	}
	switch hh.state {
	case hsChunkEnd:
		hh.state = hsChunkSize
	case hsTrailer:
		if len(line) == 0 {
			h.messageDone(dir)
		}
	case hsChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		switch {
		case err != nil || size < 0:
			h.fail(dir)
		case size == 0:
			hh.state = hsTrailer
		default:
			hh.state, hh.left = hsChunkData, size
		}
	}
	return n
}

// header collects a header block and handles it once complete; it returns
// how many bytes of b it used.
func (h *httpConn) header(dir int, b []byte) int {
	hh := &h.half[dir]
	if len(hh.buf) == 0 {
		// Blank lines between messages are tolerated, as servers do.
		n := 0
		for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
			n++
		}
		if n > 0 {
			return n
		}
		if dir == 1 && len(h.pending) > 0 && h.pending[0].http09 {
			// An HTTP/0.9 response is a bare body up to the close.
			t := h.pending[0]
			t.hasResp = true
			hh.state, hh.txn = hsUntilClose, t
			return 0
		}
		if end := headerEnd(b, 0); end > 0 {
			h.message(dir, b[:end])
			return end
		}
	}
	old := len(hh.buf)
	take := min(len(b), maxHTTPHeader+4-old)
	var ok bool
	if hh.buf, ok = h.c.appendHeld(hh.buf, b[:take]); !ok {
		h.fail(dir)
		return len(b)
	}
	end := headerEnd(hh.buf, max(0, old-3))
	if end < 0 {
		if len(hh.buf) > maxHTTPHeader {
			h.fail(dir)
		}
		return take
	}
	block := hh.buf[:end]
	hh.buf = hh.buf[:0]
	h.message(dir, block)
	return end - old
}

// headerEnd returns the offset just past the blank line that ends a header
// block in b, searching from `from`, or -1.
func headerEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// message handles one complete header block.
func (h *httpConn) message(dir int, block []byte) {
	first, rest, _ := bytes.Cut(block, []byte("\n"))
	first = bytes.TrimSuffix(first, []byte("\r"))
	if dir == 0 {
		h.request(first, rest)
	} else {
		h.response(first, rest)
	}
}

func (h *httpConn) request(first, rest []byte) {
	hh := &h.half[0]
	t := &httpTxn{ts: h.c.ts, hasReq: true}
	if len(h.pending) >= maxHTTPPending {
		h.emit(h.pending[0])
		h.pending = h.pending[1:]
	}
	h.pending = append(h.pending, t)
	method, uri, version, ok := parseRequestLine(first)
	if !ok {
		// Zeek logs such a request without method, URI or headers, and
		// still pairs the response with it; so do we, then stop reading
		// requests on this connection.
		t.bad = true
		h.fail(0)
		return
	}
	t.method, t.uri, t.version = method, uri, version
	t.http09 = version == "0.9"
	hd := parseHeaders(rest)
	t.host, t.userAgent, t.reqType = hd.host, hd.userAgent, hd.contentType
	// Waiting requests count against the memory cap like buffered bytes;
	// when it is full the connection is given up, its requests emitted.
	size := 256 + len(t.method) + len(t.uri) + len(t.version) + len(t.host) + len(t.userAgent) + len(t.reqType)
	if !h.c.hold(size) {
		h.c.a.st.TCPGaps++
		h.end()
		h.half[0].state, h.half[1].state = hsDead, hsDead
		return
	}
	t.held = size
	hh.txn = t
	if t.method == "CONNECT" {
		// What follows is a tunnel (TLS, mostly) if the proxy agrees, so
		// the client's later bytes are not requests.
		h.messageDone(0)
		hh.state = hsDead
		return
	}
	h.startBody(0, hd, false)
}

// parseRequestLine splits "METHOD URI HTTP/x.y". A line without a version
// is HTTP/0.9, and one whose URI is missing has an empty URI, as Zeek
// reads them.
func parseRequestLine(line []byte) (method, uri, version string, ok bool) {
	i := 0
	for i < len(line) && isTokenChar(line[i]) {
		i++
	}
	if i == 0 || i == len(line) || (line[i] != ' ' && line[i] != '\t') {
		return "", "", "", false
	}
	method = string(line[:i])
	rest := bytes.TrimSpace(line[i:])
	if v, found := bytes.CutPrefix(rest, []byte("HTTP/")); found {
		return method, "", text(v), true
	}
	if j := bytes.LastIndex(rest, []byte(" HTTP/")); j >= 0 {
		return method, text(bytes.TrimSpace(rest[:j])), text(rest[j+6:]), true
	}
	return method, text(rest), "0.9", true
}

type httpHeaders struct {
	host, userAgent, contentType string
	length                       int64 // -1 when absent or invalid
	chunked                      bool
}

func parseHeaders(block []byte) httpHeaders {
	hd := httpHeaders{length: -1}
	for len(block) > 0 {
		var line []byte
		line, block, _ = bytes.Cut(block, []byte("\n"))
		name, value, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\r")), []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("host")):
			hd.host = text(value)
		case bytes.EqualFold(name, []byte("user-agent")):
			hd.userAgent = text(value)
		case bytes.EqualFold(name, []byte("content-type")):
			mt, _, _ := bytes.Cut(value, []byte(";"))
			hd.contentType = strings.ToLower(text(bytes.TrimSpace(mt)))
		case bytes.EqualFold(name, []byte("content-length")):
			if n, err := strconv.ParseInt(string(value), 10, 64); err == nil && n >= 0 {
				hd.length = n
			}
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			hd.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		}
	}
	return hd
}

// startBody sets up reading the body that follows a header block. noBody
// marks messages that have none whatever their headers say.
func (h *httpConn) startBody(dir int, hd httpHeaders, noBody bool) {
	hh := &h.half[dir]
	switch {
	case noBody:
		h.messageDone(dir)
	case hd.chunked:
		hh.state = hsChunkSize
	case hd.length > 0:
		hh.state, hh.left = hsBody, hd.length
	case hd.length < 0 && dir == 1:
		hh.state = hsUntilClose
	default:
		h.messageDone(dir)
	}
}

func (h *httpConn) response(first, rest []byte) {
	version, ok := bytes.CutPrefix(first, []byte("HTTP/"))
	if !ok {
		h.fail(1)
		return
	}
	version, statusText, _ := bytes.Cut(version, []byte(" "))
	code, err := strconv.Atoi(string(bytes.TrimSpace(firstField(statusText))))
	if err != nil || code < 100 || code > 999 {
		h.fail(1)
		return
	}
	if code >= 100 && code < 200 && code != 101 {
		return // an interim response; the final one follows
	}
	var t *httpTxn
	if len(h.pending) > 0 && !h.pending[0].hasResp {
		t = h.pending[0]
	} else {
		// A response to a request we did not see (the capture started
		// late, or the request was lost): a record of its own.
		t = &httpTxn{ts: h.c.ts}
		h.pending = append([]*httpTxn{t}, h.pending...)
	}
	t.hasResp, t.status, t.respVersion = true, code, text(version)
	hd := parseHeaders(rest)
	t.respType = hd.contentType
	h.half[1].txn = t
	if code == 101 {
		h.messageDone(1)
		h.half[0].state, h.half[1].state = hsDead, hsDead // no longer HTTP
		return
	}
	if t.method == "CONNECT" && code < 300 {
		h.messageDone(1)
		h.half[1].state = hsDead
		return
	}
	h.startBody(1, hd, t.method == "HEAD" || code == 204 || code == 304)
}

func firstField(b []byte) []byte {
	b = bytes.TrimLeft(b, " ")
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i]
	}
	return b
}

// messageDone ends the message of one direction; a finished response
// completes the first pending transaction.
func (h *httpConn) messageDone(dir int) {
	hh := &h.half[dir]
	hh.state, hh.txn, hh.left = hsHeader, nil, 0
	if dir == 1 && len(h.pending) > 0 && h.pending[0].hasResp {
		h.emit(h.pending[0])
		h.pending = h.pending[1:]
	}
}

// end emits every transaction still open when the connection ends.
func (h *httpConn) end() {
	for _, t := range h.pending {
		h.emit(t)
	}
	h.pending = nil
}

func (h *httpConn) emit(t *httpTxn) {
	f := h.c.f
	h.c.release(t.held)
	t.held = 0
	h.emitted++
	ev := appEvent(f, datasetHTTP, "http", t.ts, strconv.FormatInt(f.start, 10), strconv.Itoa(h.emitted))
	version := t.version
	if version == "" {
		version = t.respVersion
	}
	setNonEmpty(&ev, "http.version", version)
	setNonEmpty(&ev, "http.request.method", t.method)
	if t.uri != "" {
		ev.Set("url.original", t.uri)
		path, query, _ := strings.Cut(uriPath(t.uri), "?")
		setNonEmpty(&ev, "url.path", path)
		setNonEmpty(&ev, "url.query", query)
	}
	setNonEmpty(&ev, "url.domain", hostOnly(t.host))
	setNonEmpty(&ev, "user_agent.original", t.userAgent)
	setNonEmpty(&ev, "http.request.mime_type", t.reqType)
	if t.hasReq {
		ev.Set("http.request.body.bytes", t.reqBody)
	}
	if t.hasResp {
		if t.status != 0 {
			ev.Set("http.response.status_code", t.status)
		}
		setNonEmpty(&ev, "http.response.mime_type", t.respType)
		ev.Set("http.response.body.bytes", t.respBody)
	}
	h.c.emit(ev)
}

// uriPath drops the scheme and authority of an absolute URI (a request
// to a proxy) so that url.path is a path either way.
func uriPath(uri string) string {
	for _, scheme := range []string{"http://", "https://"} {
		if len(uri) >= len(scheme) && strings.EqualFold(uri[:len(scheme)], scheme) {
			rest := uri[len(scheme):]
			if i := strings.IndexAny(rest, "/?"); i >= 0 {
				return rest[i:]
			}
			return ""
		}
	}
	return uri
}

// hostOnly strips the port from a Host header value.
func hostOnly(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return host[1:i]
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.Count(host, ":") == 1 {
		return host[:i]
	}
	return host
}

func setNonEmpty(ev interface{ Set(string, any) }, name, v string) {
	if v != "" {
		ev.Set(name, v)
	}
}

// text makes a string field of outside bytes: valid UTF-8, bounded.
func text(b []byte) string {
	if len(b) > maxFieldBytes {
		b = b[:maxFieldBytes]
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
