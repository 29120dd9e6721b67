package sensor

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// TLS extension types the parser reads.
const (
	extServerName        = 0x0000
	extSupportedGroups   = 0x000a
	extECPointFormats    = 0x000b
	extSignatureAlgs     = 0x000d
	extALPN              = 0x0010
	extSupportedVersions = 0x002b
)

var errShortHello = errors.New("hello message cut short")

// clientHello holds what the fingerprints and the record need of a
// ClientHello. Lists keep wire order and GREASE values.
type clientHello struct {
	version    uint16
	ciphers    []uint16
	extensions []uint16
	groups     []uint16
	points     []uint8
	sigAlgs    []uint16
	versions   []uint16
	alpn       []string
	sni        string
	hasSNI     bool
}

// serverHello holds the server's choices.
type serverHello struct {
	version    uint16 // the negotiated version: supported_versions if present
	legacy     uint16
	cipher     uint16
	extensions []uint16
	alpn       string
}

// reader reads big-endian fields; after a read past the end ok is false
// and every later read returns zero.
type reader struct {
	b  []byte
	ok bool
}

func newReader(b []byte) reader { return reader{b: b, ok: true} }

func (r *reader) bytes(n int) []byte {
	if !r.ok || n > len(r.b) {
		r.ok = false
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return uint16(b[0])<<8 | uint16(b[1])
	}
	return 0
}

func (r *reader) u24() int {
	if b := r.bytes(3); b != nil {
		return int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	}
	return 0
}

func (r *reader) vec8() reader  { return newReaderOK(r.bytes(int(r.u8())), r.ok) }
func (r *reader) vec16() reader { return newReaderOK(r.bytes(int(r.u16())), r.ok) }
func (r *reader) vec24() reader { return newReaderOK(r.bytes(r.u24()), r.ok) }

func newReaderOK(b []byte, ok bool) reader { return reader{b: b, ok: ok} }

func (r *reader) u16s() []uint16 {
	var out []uint16
	for r.ok && len(r.b) >= 2 {
		out = append(out, r.u16())
	}
	return out
}

// parseClientHello reads a ClientHello handshake body.
func parseClientHello(msg []byte) (*clientHello, error) {
	r := newReader(msg)
	h := &clientHello{version: r.u16()}
	r.bytes(32) // random
	r.vec8()    // session ID
	cs := r.vec16()
	h.ciphers = cs.u16s()
	r.vec8() // compression methods
	if !r.ok {
		return nil, errShortHello
	}
	if len(r.b) == 0 {
		return h, nil // no extensions (SSL 3.0 style)
	}
	exts := r.vec16()
	for exts.ok && len(exts.b) >= 4 {
		typ := exts.u16()
		data := exts.vec16()
		h.extensions = append(h.extensions, typ)
		switch typ {
		case extServerName:
			h.hasSNI = true
			list := data.vec16()
			for list.ok && len(list.b) > 0 {
				kind, name := list.u8(), list.vec16()
				if kind == 0 && name.ok && h.sni == "" {
					h.sni = text(name.b)
				}
			}
		case extSupportedGroups:
			l := data.vec16()
			h.groups = l.u16s()
		case extECPointFormats:
			l := data.vec8()
			h.points = append([]uint8(nil), l.b...)
		case extSignatureAlgs:
			l := data.vec16()
			h.sigAlgs = l.u16s()
		case extALPN:
			list := data.vec16()
			for list.ok && len(list.b) > 0 {
				if p := list.vec8(); p.ok {
					h.alpn = append(h.alpn, text(p.b))
				}
			}
		case extSupportedVersions:
			l := data.vec8()
			h.versions = l.u16s()
		}
	}
	if !exts.ok {
		return h, errShortHello
	}
	return h, nil
}

// parseServerHello reads a ServerHello handshake body.
func parseServerHello(msg []byte) (*serverHello, error) {
	r := newReader(msg)
	h := &serverHello{legacy: r.u16()}
	h.version = h.legacy
	r.bytes(32)
	r.vec8()
	h.cipher = r.u16()
	r.u8()
	if !r.ok {
		return nil, errShortHello
	}
	if len(r.b) == 0 {
		return h, nil
	}
	exts := r.vec16()
	for exts.ok && len(exts.b) >= 4 {
		typ := exts.u16()
		data := exts.vec16()
		h.extensions = append(h.extensions, typ)
		switch typ {
		case extSupportedVersions:
			if v := data.u16(); data.ok {
				h.version = v
			}
		case extALPN:
			list := data.vec16()
			if p := list.vec8(); p.ok {
				h.alpn = text(p.b)
			}
		}
	}
	return h, nil
}

// isGREASE reports the reserved values of RFC 8701 that clients sprinkle
// into their lists; fingerprints leave them out.
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func appendDecimal(b []byte, vs []uint16) []byte {
	first := true
	for _, v := range vs {
		if isGREASE(v) {
			continue
		}
		if !first {
			b = append(b, '-')
		}
		first = false
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return b
}

// ja3 returns the JA3 string of a ClientHello: version, ciphers,
// extensions, groups and point formats in decimal, GREASE left out.
func (h *clientHello) ja3() string {
	b := strconv.AppendUint(nil, uint64(h.version), 10)
	b = append(b, ',')
	b = appendDecimal(b, h.ciphers)
	b = append(b, ',')
	b = appendDecimal(b, h.extensions)
	b = append(b, ',')
	b = appendDecimal(b, h.groups)
	b = append(b, ',')
	for i, p := range h.points {
		if i > 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, uint64(p), 10)
	}
	return string(b)
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// ja4 returns the JA4 fingerprint of a ClientHello seen over TCP, as
// FoxIO's specification defines it.
func (h *clientHello) ja4() string {
	ciphers := withoutGREASE(h.ciphers)
	exts := withoutGREASE(h.extensions)
	version := h.version
	if vs := withoutGREASE(h.versions); len(vs) > 0 {
		version = slices.Max(vs)
	}
	var a strings.Builder
	a.WriteString("t")
	a.WriteString(ja4Version(version))
	if h.hasSNI {
		a.WriteByte('d')
	} else {
		a.WriteByte('i')
	}
	a.WriteString(twoDigits(len(ciphers)))
	a.WriteString(twoDigits(len(exts)))
	a.WriteString(ja4ALPN(h.alpn))

	slices.Sort(ciphers)
	cipherHash := "000000000000"
	if len(ciphers) > 0 {
		cipherHash = sha256Prefix(hexList(ciphers))
	}
	// The extension hash leaves out SNI and ALPN, whose presence part a
	// already tells, and adds the signature algorithms in wire order.
	var sorted []uint16
	for _, e := range exts {
		if e != extServerName && e != extALPN {
			sorted = append(sorted, e)
		}
	}
	slices.Sort(sorted)
	extHash := "000000000000"
	if len(sorted) > 0 {
		s := hexList(sorted)
		if algs := withoutGREASE(h.sigAlgs); len(algs) > 0 {
			s += "_" + hexList(algs)
		}
		extHash = sha256Prefix(s)
	}
	return a.String() + "_" + cipherHash + "_" + extHash
}

func withoutGREASE(vs []uint16) []uint16 {
	out := make([]uint16, 0, len(vs))
	for _, v := range vs {
		if !isGREASE(v) {
			out = append(out, v)
		}
	}
	return out
}

func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func twoDigits(n int) string {
	n = min(n, 99)
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}

// ja4ALPN is the first and last character of the first ALPN value, or of
// its hex form when either is not alphanumeric.
func ja4ALPN(alpn []string) string {
	if len(alpn) == 0 || alpn[0] == "" {
		return "00"
	}
	p := alpn[0]
	first, last := p[0], p[len(p)-1]
	if isAlnum(first) && isAlnum(last) {
		return string([]byte{first, last})
	}
	h := hex.EncodeToString([]byte(p))
	return string([]byte{h[0], h[len(h)-1]})
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func hexList(vs []uint16) string {
	b := make([]byte, 0, len(vs)*5)
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, hex.EncodeToString([]byte{byte(v >> 8), byte(v)})...)
	}
	return string(b)
}

func sha256Prefix(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// ja3s returns the JA3S string of a ServerHello.
func (h *serverHello) ja3s() string {
	b := strconv.AppendUint(nil, uint64(h.legacy), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(h.cipher), 10)
	b = append(b, ',')
	b = appendDecimal(b, h.extensions)
	return string(b)
}

// versionName renders a TLS version as ECS tls.version and
// tls.version_protocol do.
func versionName(v uint16) (version, protocol string) {
	switch v {
	case 0x0300:
		return "3.0", "ssl"
	case 0x0301, 0x0302, 0x0303, 0x0304:
		return "1." + strconv.Itoa(int(v-0x0301)), "tls"
	}
	return "", ""
}
