package sensor

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helloSpec describes a ClientHello to build; lists are in wire order.
type helloSpec struct {
	version    uint16
	ciphers    []uint16
	extensions []uint16 // the extensions, in order; the ones below get their data
	groups     []uint16
	sigAlgs    []uint16
	versions   []uint16
	alpn       []string
	sni        string
}

func u16s(s string) []uint16 {
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(f, 16, 16)
		if err != nil {
			panic(err)
		}
		out = append(out, uint16(v))
	}
	return out
}

func vec16(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }
func vec8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }

func be16s(vs []uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

// build returns the ClientHello as a TLS record.
func (s helloSpec) build() []byte {
	body := binary.BigEndian.AppendUint16(nil, s.version)
	body = append(body, make([]byte, 32)...)
	body = append(body, 0)
	body = append(body, vec16(be16s(s.ciphers))...)
	body = append(body, 1, 0)
	var exts []byte
	for _, e := range s.extensions {
		var data []byte
		switch e {
		case extServerName:
			data = vec16(append([]byte{0}, vec16([]byte(s.sni))...))
		case extSupportedGroups:
			data = vec16(be16s(s.groups))
		case extECPointFormats:
			data = vec8([]byte{0})
		case extSignatureAlgs:
			data = vec16(be16s(s.sigAlgs))
		case extALPN:
			var list []byte
			for _, p := range s.alpn {
				list = append(list, vec8([]byte(p))...)
			}
			data = vec16(list)
		case extSupportedVersions:
			data = vec8(be16s(s.versions))
		}
		exts = binary.BigEndian.AppendUint16(exts, e)
		exts = append(exts, vec16(data)...)
	}
	body = append(body, vec16(exts)...)
	hs := append([]byte{hsClientHello, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{recHandshake, 3, 1, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

// chrome is a published JA4/JA3 example: a Chrome ClientHello as
// browserleaks.com reports it (ja4_ro lists ciphers, extensions and
// signature algorithms in wire order), with GREASE values added at the
// front of each list as Chrome sends them.
var chrome = helloSpec{
	version:    0x0303,
	ciphers:    append([]uint16{0x4a4a}, u16s("1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035")...),
	extensions: append([]uint16{0xaaaa}, u16s("002d,0033,0010,fe0d,0017,44cd,0000,000b,000a,002b,ff01,0023,0012,0005,000d,001b")...),
	groups:     append([]uint16{0x1a1a}, 4588, 29, 23, 24),
	sigAlgs:    u16s("0403,0804,0401,0503,0805,0501,0806,0601"),
	versions:   []uint16{0x3a3a, 0x0304, 0x0303},
	alpn:       []string{"h2", "http/1.1"},
	sni:        "tls.browserleaks.com",
}

func TestFingerprints(t *testing.T) {
	noExt := chrome
	noExt.extensions, noExt.versions, noExt.ciphers = nil, nil, []uint16{0x0004}
	odd := chrome
	odd.alpn = []string{"\x01x"}
	odd.extensions = u16s("0010,0000")
	for _, tc := range []struct {
		name      string
		spec      helloSpec
		ja3, ja4  string
		ja3String string
	}{
		{name: "chrome", spec: chrome,
			ja3String: "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0",
			ja3:       "98487aa16281980e7d1120d399efb6a4",
			ja4:       "t13d1516h2_8daaf6152771_d8a2da3f94cd"},
		{name: "no extensions", spec: noExt, ja3String: "771,4,,,",
			ja4: "t12i010000_" + sha256Prefix("0004") + "_000000000000"},
		{name: "binary ALPN, only SNI and ALPN", spec: odd,
			ja4: "t12d1502" + "08" + "_8daaf6152771_000000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.spec.build()
			h, err := parseClientHello(rec[9:])
			if err != nil {
				t.Fatal(err)
			}
			if tc.ja3String != "" && h.ja3() != tc.ja3String {
				t.Errorf("JA3 string\n got %s\nwant %s", h.ja3(), tc.ja3String)
			}
			if tc.ja3 != "" && md5Hex(h.ja3()) != tc.ja3 {
				t.Errorf("JA3 = %s, want %s", md5Hex(h.ja3()), tc.ja3)
			}
			if got := h.ja4(); got != tc.ja4 {
				t.Errorf("JA4 = %s, want %s", got, tc.ja4)
			}
		})
	}
}

// TestTLSRecordSplit feeds a handshake split at every byte boundary and
// across records, and checks the same record comes out.
func TestTLSRecordSplit(t *testing.T) {
	hello := chrome.build()
	for _, size := range []int{1, 2, 5, 7, 100, len(hello)} {
		c := newCapture(t)
		c.tcp(time.Millisecond, "10.0.0.1", 40000, "10.0.0.2", 443, "S", nil)
		c.tcp(time.Millisecond, "10.0.0.2", 443, "10.0.0.1", 40000, "SA", nil)
		seq := uint32(1)
		for off := 0; off < len(hello); off += size {
			end := min(off+size, len(hello))
			c.tcpSeq(time.Millisecond, "10.0.0.1", 40000, "10.0.0.2", 443, "PA", seq, hello[off:end])
			seq += uint32(end - off)
		}
		evs, st := decodeAll(t, c.bytes(), DefaultConfig())
		tls := byDataset(evs, datasetTLS)
		if len(tls) != 1 || st.TLSRecords != 1 {
			t.Fatalf("segments of %d bytes: %d TLS records, stats %+v", size, len(tls), st)
		}
		if got := tls[0].String("tls.client.ja4"); got != "t13d1516h2_8daaf6152771_d8a2da3f94cd" {
			t.Errorf("segments of %d bytes: JA4 %s", size, got)
		}
		if got := tls[0].String("tls.client.server_name"); got != "tls.browserleaks.com" {
			t.Errorf("segments of %d bytes: SNI %q", size, got)
		}
	}
}

// serverHello13 returns a TLS 1.3 ServerHello record choosing
// TLS_AES_128_GCM_SHA256 and ALPN h2.
func serverHello13() []byte {
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...)
	body = append(body, 0, 0x13, 0x01, 0)
	var exts []byte
	exts = append(exts, 0, 0x2b, 0, 2, 3, 4)
	exts = append(exts, 0, 0x10)
	exts = append(exts, vec16(vec16(vec8([]byte("h2"))))...)
	body = append(body, vec16(exts)...)
	hs := append([]byte{hsServerHello, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{recHandshake, 3, 3, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

func TestTLS13Session(t *testing.T) {
	ccs := []byte{recChangeCipherSpec, 3, 3, 0, 1, 1}
	appData := []byte{recApplicationData, 3, 3, 0, 2, 0xde, 0xad}
	hello := chrome.build()
	sh := append(append(serverHello13(), ccs...), appData...)
	c := newCapture(t)
	c.tcpSeq(time.Millisecond, "10.0.0.1", 40000, "10.0.0.2", 443, "S", 0, nil)
	c.tcpSeq(time.Millisecond, "10.0.0.2", 443, "10.0.0.1", 40000, "SA", 0, nil)
	c.tcpSeq(time.Millisecond, "10.0.0.1", 40000, "10.0.0.2", 443, "PA", 1, hello)
	c.tcpSeq(time.Millisecond, "10.0.0.2", 443, "10.0.0.1", 40000, "PA", 1, sh)
	c.tcpSeq(time.Millisecond, "10.0.0.1", 40000, "10.0.0.2", 443, "PA", 1+uint32(len(hello)), ccs)
	evs, _ := decodeAll(t, c.bytes(), DefaultConfig())
	if len(evs) != 2 || evs[0].Dataset != datasetTLS {
		t.Fatalf("want the TLS record before the flow's, got %d events", len(evs))
	}
	ev := evs[0]
	for field, want := range map[string]string{
		"tls.version": "1.3", "tls.version_protocol": "tls", "tls.cipher": "TLS_AES_128_GCM_SHA256",
		"tls.next_protocol": "h2", "tls.established": "true", "tls.client.server_name": "tls.browserleaks.com",
		"tls.client.ja4": "t13d1516h2_8daaf6152771_d8a2da3f94cd", "network.protocol": "tls",
	} {
		if got := ev.String(field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if got := ev.Strings("tls.client.supported_versions"); len(got) != 2 || got[0] != "1.3" {
		t.Errorf("tls.client.supported_versions = %v", got)
	}
	if evs[1].String("network.protocol") != "tls" {
		t.Errorf("flow network.protocol = %q", evs[1].String("network.protocol"))
	}
}
