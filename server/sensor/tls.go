package sensor

import (
	"crypto/tls"
	"crypto/x509"
	"strconv"
	"strings"

	"lachan/internal/event"
)

const datasetTLS = "network.tls"

// TLS record content types.
const (
	recChangeCipherSpec = 20
	recAlert            = 21
	recHandshake        = 22
	recApplicationData  = 23
	recHeartbeat        = 24
)

const (
	maxTLSRecord    = 1<<14 + 2048 // the largest record TLS allows, with expansion
	maxTLSHandshake = 64 << 10     // a handshake message longer than this is not parsed
	maxTLSCiphers   = 512          // cipher names kept in tls.client.supported_ciphers
)

// tlsHalf parses the records of one direction.
type tlsHalf struct {
	hdr       [5]byte
	nhdr      int
	typ       byte
	left      int    // body bytes left in the current record
	hs        []byte // handshake bytes of a message split across records
	encrypted bool   // handshake records are no longer readable
	switched  bool   // sent ChangeCipherSpec or application data
}

// tlsConn follows the handshake of one TLS connection.
type tlsConn struct {
	c       *appConn
	half    [2]tlsHalf
	client  *clientHello
	server  *serverHello
	chain   []certInfo // the server's certificates, its own first
	emitted bool
}

func (t *tlsConn) data(dir int, b []byte) bool {
	h := &t.half[dir]
	for len(b) > 0 {
		if h.left == 0 {
			n := copy(h.hdr[h.nhdr:], b)
			h.nhdr += n
			b = b[n:]
			if h.nhdr < 5 {
				return true
			}
			h.nhdr = 0
			h.typ = h.hdr[0]
			h.left = int(h.hdr[3])<<8 | int(h.hdr[4])
			if h.typ < recChangeCipherSpec || h.typ > recHeartbeat || h.hdr[1] != 3 || h.left > maxTLSRecord {
				t.c.a.st.AppErrors++
				return t.stop(dir)
			}
			switch h.typ {
			case recChangeCipherSpec:
				h.encrypted, h.switched = true, true
			case recApplicationData:
				h.switched = true
			}
			continue
		}
		n := min(h.left, len(b))
		if h.typ == recHandshake && !h.encrypted {
			t.handshake(dir, b[:n])
		}
		h.left -= n
		b = b[n:]
	}
	if t.server != nil && t.half[0].switched && t.half[1].switched {
		t.emit(true)
		return false
	}
	return true
}

// stop ends parsing one direction; the record is emitted at the end of
// the flow with what was seen.
func (t *tlsConn) stop(dir int) bool {
	t.half[dir].encrypted = true
	t.half[dir].hs = nil
	return false
}

func (t *tlsConn) gap(dir int) { t.stop(dir) }

// handshake takes the body bytes of a handshake record and handles every
// message that is complete.
func (t *tlsConn) handshake(dir int, body []byte) {
	h := &t.half[dir]
	data := body
	if len(h.hs) > 0 {
		var ok bool
		if h.hs, ok = t.c.appendHeld(h.hs, body); !ok {
			t.stop(dir)
			return
		}
		data = h.hs
	}
	for len(data) >= 4 && !h.encrypted {
		typ := data[0]
		n := int(data[1])<<16 | int(data[2])<<8 | int(data[3])
		if n > maxTLSHandshake {
			t.stop(dir)
			return
		}
		if len(data) < 4+n {
			break
		}
		t.message(dir, typ, data[4:4+n])
		data = data[4+n:]
	}
	if h.encrypted {
		h.hs = nil
		return
	}
	if len(h.hs) > 0 {
		h.hs = h.hs[:copy(h.hs, data)]
		return
	}
	var ok bool
	if h.hs, ok = t.c.appendHeld(h.hs, data); !ok {
		t.stop(dir)
	}
}

// Handshake message types the parser reads.
const (
	hsClientHello = 1
	hsServerHello = 2
	hsCertificate = 11
)

func (t *tlsConn) message(dir int, typ byte, msg []byte) {
	switch {
	case dir == 0 && typ == hsClientHello && t.client == nil:
		ch, err := parseClientHello(msg)
		if err != nil {
			t.c.a.st.AppErrors++
		}
		t.client = ch
	case dir == 1 && typ == hsServerHello && t.server == nil:
		sh, err := parseServerHello(msg)
		if err != nil {
			t.c.a.st.AppErrors++
			return
		}
		t.server = sh
		if sh.version >= 0x0304 {
			// Everything the server sends after its hello is encrypted.
			t.half[1].encrypted = true
		}
	case dir == 1 && typ == hsCertificate && t.chain == nil:
		t.certificates(msg)
	}
}

// certificates keeps the server's certificate chain. Only the first
// certificate is kept when the reassembly budget cannot hold the rest.
func (t *tlsConn) certificates(msg []byte) {
	ders, err := parseCertChain(msg)
	if err != nil {
		t.c.a.st.AppErrors++
	}
	if len(ders) == 0 {
		return
	}
	n := 0
	for _, d := range ders {
		n += len(d)
	}
	if len(ders) > 1 && !t.c.hold(n) {
		ders = ders[:1]
		n = len(ders[0])
	}
	buf := make([]byte, 0, n)
	t.chain = make([]certInfo, len(ders))
	for i, d := range ders {
		buf = append(buf, d...)
		ci := certInfo{der: buf[len(buf)-len(d):]}
		if c, err := x509.ParseCertificate(ci.der); err == nil {
			ci.cert = c
		}
		t.chain[i] = ci
	}
}

// end emits the record of a connection whose handshake was seen in part.
func (t *tlsConn) end() {
	if t.client != nil || t.server != nil {
		t.emit(t.server != nil && t.half[0].switched && t.half[1].switched)
	}
}

func (t *tlsConn) emit(established bool) {
	if t.emitted {
		return
	}
	t.emitted = true
	f := t.c.f
	ev := appEvent(f, datasetTLS, "tls", f.startTime(), strconv.FormatInt(f.start, 10))
	ev.Set("tls.established", established)
	if ch := t.client; ch != nil {
		setNonEmpty(&ev, "tls.client.server_name", ch.sni)
		ja3 := ch.ja3()
		ev.Set("tls.client.ja3", md5Hex(ja3))
		ev.Set("tls.client.ja3_full", ja3)
		ev.Set("tls.client.ja4", ch.ja4())
		if len(ch.alpn) > 0 {
			ev.Set("tls.client.supported_protocols", ch.alpn)
		}
		var versions []string
		for _, v := range withoutGREASE(ch.versions) {
			if name, _ := versionName(v); name != "" {
				versions = append(versions, name)
			}
		}
		if len(versions) > 0 {
			ev.Set("tls.client.supported_versions", versions)
		}
		var ciphers []string
		for _, c := range withoutGREASE(ch.ciphers) {
			if len(ciphers) == maxTLSCiphers {
				break
			}
			ciphers = append(ciphers, cipherName(c))
		}
		if len(ciphers) > 0 {
			ev.Set("tls.client.supported_ciphers", ciphers)
		}
	}
	if sh := t.server; sh != nil {
		if version, protocol := versionName(sh.version); version != "" {
			ev.Set("tls.version", version)
			ev.Set("tls.version_protocol", protocol)
		}
		ev.Set("tls.cipher", cipherName(sh.cipher))
		setNonEmpty(&ev, "tls.next_protocol", sh.alpn)
		ja3s := sh.ja3s()
		ev.Set("tls.server.ja3s", md5Hex(ja3s))
	}
	t.setCert(&ev)
	t.c.emit(ev)
}

// setCert sets the leaf's fields under tls.server.x509 (and its hashes
// and validity under tls.server, as ECS has them) and every certificate
// of the chain, the leaf first, as one object of tls.server.x509_chain.
func (t *tlsConn) setCert(ev *event.Event) {
	if len(t.chain) == 0 {
		return
	}
	chain := make([]any, len(t.chain))
	for i, ci := range t.chain {
		chain[i] = ci.x509Fields()
	}
	for k, v := range chain[0].(map[string]any) {
		if name, ok := strings.CutPrefix(k, "hash."); ok {
			ev.Set("tls.server.hash."+name, v)
			continue
		}
		ev.Set("tls.server.x509."+k, v)
	}
	if c := t.chain[0].cert; c != nil {
		ev.Set("tls.server.not_before", c.NotBefore.UTC())
		ev.Set("tls.server.not_after", c.NotAfter.UTC())
	}
	ev.Set("tls.server.x509_chain", chain)
}

// legacyCiphers names suites that crypto/tls does not know.
var legacyCiphers = map[uint16]string{
	0x0001: "TLS_RSA_WITH_NULL_MD5", 0x0002: "TLS_RSA_WITH_NULL_SHA",
	0x0004: "TLS_RSA_WITH_RC4_128_MD5", 0x0009: "TLS_RSA_WITH_DES_CBC_SHA",
	0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", 0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
	0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
	0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 0x003d: "TLS_RSA_WITH_AES_256_CBC_SHA256",
	0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 0x006b: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
	0x009e: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 0x009f: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
	0x00ff: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", 0x5600: "TLS_FALLBACK_SCSV",
	0xc024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 0xc028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	0xccaa: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

// cipherName returns the IANA name of a cipher suite, or its number in
// hex when it has none we know.
func cipherName(id uint16) string {
	if name, ok := legacyCiphers[id]; ok {
		return name
	}
	return tls.CipherSuiteName(id)
}
