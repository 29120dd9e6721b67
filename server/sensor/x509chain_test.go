package sensor

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"
)

// testCert makes a DER certificate; the key is deterministic enough for a
// test (its bytes are not compared).
func testCert(t testing.TB, tmpl *x509.Certificate) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), bytes.NewReader(bytes.Repeat([]byte{7}, 1024)))
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// certMessage builds the body of a Certificate handshake message.
func certMessage(certs ...[]byte) []byte {
	var list []byte
	for _, c := range certs {
		list = append(list, byte(len(c)>>16), byte(len(c)>>8), byte(len(c)))
		list = append(list, c...)
	}
	return append([]byte{byte(len(list) >> 16), byte(len(list) >> 8), byte(len(list))}, list...)
}

func TestParseCertChain(t *testing.T) {
	a, b := []byte("leaf"), []byte("intermediate")
	many := make([][]byte, maxChainCerts+2)
	for i := range many {
		many[i] = []byte{byte(i)}
	}
	for _, tt := range []struct {
		name string
		msg  []byte
		want [][]byte
		err  bool
	}{
		{"two", certMessage(a, b), [][]byte{a, b}, false},
		{"empty list", certMessage(), nil, false},
		{"list cut short", certMessage(a, b)[:12], nil, true},
		{"certificate cut short", []byte{0, 0, 11, 0, 0, 4, 'l', 'e', 'a', 'f', 0, 0, 9, 'x'}, [][]byte{a}, true},
		{"empty certificate", certMessage(a, nil), [][]byte{a}, true},
		{"no list", []byte{0, 1}, nil, true},
		{"too many", certMessage(many...), many[:maxChainCerts], false},
	} {
		got, err := parseCertChain(tt.msg)
		if (err != nil) != tt.err {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.err)
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d certificates, want %d", tt.name, len(got), len(tt.want))
			continue
		}
		for i := range got {
			if !bytes.Equal(got[i], tt.want[i]) {
				t.Errorf("%s: certificate %d = %q, want %q", tt.name, i, got[i], tt.want[i])
			}
		}
	}
}

// TestX509Fields checks what Zeek's TLS trace does not have: an EC key,
// every kind of alternative name, a path length, a certificate Go cannot
// parse.
func TestX509Fields(t *testing.T) {
	u, _ := url.Parse("https://x.example/p")
	der := testCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(0x0102), Subject: pkix.Name{CommonName: "ca.example", Organization: []string{"A, B"}},
		NotBefore: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
		DNSNames: []string{"a.example"}, URIs: []*url.URL{u}, EmailAddresses: []string{"x@example.org"},
		IPAddresses: []net.IP{net.ParseIP("192.0.2.1")}, BasicConstraintsValid: true, IsCA: true, MaxPathLen: 2,
	})
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	got := certInfo{der: der, cert: c}.x509Fields()
	want := map[string]any{
		"version_number": "3", "serial_number": "0102",
		"subject.distinguished_name": `CN=ca.example,O=A\, B`, "issuer.distinguished_name": `CN=ca.example,O=A\, B`,
		"not_before": "2024-01-02T00:00:00Z", "not_after": "2025-01-02T00:00:00Z",
		"public_key_algorithm": "id-ecPublicKey", "public_key_size": int64(256), "public_key_curve": "prime256v1",
		"signature_algorithm": "ecdsa-with-SHA256", "basic_constraints.ca": true, "basic_constraints.path_len": int64(2),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	names, _ := got["alternative_names"].([]any)
	if len(names) != 4 || names[0] != "a.example" || names[1] != "https://x.example/p" || names[2] != "x@example.org" || names[3] != "192.0.2.1" {
		t.Errorf("alternative_names = %v, want DNS, URI, email, IP", names)
	}
	bad := certInfo{der: []byte("not a certificate")}.x509Fields()
	if len(bad) != 2 || bad["hash.sha256"] == nil {
		t.Errorf("unparsable certificate: %v, want its hashes only", bad)
	}
}

// FuzzCertChain feeds Certificate message bodies to the chain parser and
// the fields made of each certificate: no panic, every certificate within
// the message, and a well-formed list read back whole.
func FuzzCertChain(f *testing.F) {
	leaf := testCert(f, &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"a.example"},
		NotBefore: t0, NotAfter: t0.Add(time.Hour)})
	f.Add(certMessage(leaf, leaf))
	f.Add(certMessage(leaf)[:40])
	f.Add(certMessage([]byte{0x30, 0x03, 0x02, 0x01, 0x01}))
	f.Fuzz(func(t *testing.T, msg []byte) {
		certs, err := parseCertChain(msg)
		total := 0
		for _, c := range certs {
			if len(c) == 0 || len(c) > len(msg) {
				t.Fatalf("certificate of %d bytes from a message of %d", len(c), len(msg))
			}
			total += 3 + len(c)
			ci := certInfo{der: c}
			if cert, err := x509.ParseCertificate(c); err == nil {
				ci.cert = cert
			}
			ci.x509Fields()
		}
		if err != nil || len(certs) == maxChainCerts {
			return
		}
		if n := int(msg[0])<<16 | int(msg[1])<<8 | int(msg[2]); total != n {
			t.Fatalf("list of %d bytes read as %d", n, total)
		}
	})
}
