package forward

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testKey(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	return ed25519.NewKeyFromSeed(s)
}

func TestJWSSignVerify(t *testing.T) {
	key, other := testKey(t, 1), testKey(t, 2)
	payload := []byte(`{"objects":[{"id":"incident--2c790cbc-81e8-5cba-aa6d-625c358d0333","name":"Nguyễn"}]}`)
	jws := Sign(payload, key, "phuong-ben-thanh")
	keys := map[string]ed25519.PublicKey{"phuong-ben-thanh": key.Public().(ed25519.PublicKey)}
	lookup := func(k string) (ed25519.PublicKey, bool) { p, ok := keys[k]; return p, ok }
	if kid, err := Verify(jws, payload, lookup); err != nil || kid != "phuong-ben-thanh" {
		t.Fatalf("verify: %q, %v", kid, err)
	}
	if parts := strings.Split(jws, "."); len(parts) != 3 || parts[1] != "" {
		t.Fatalf("not detached: %s", jws)
	}
	tampered := func(b []byte, i int) []byte { c := append([]byte(nil), b...); c[i] ^= 1; return c }
	hdr, _, _ := strings.Cut(jws, "..")
	cases := []struct {
		name    string
		jws     string
		payload []byte
		want    error
	}{
		{"one payload byte changed", jws, tampered(payload, 20), ErrBadSignature},
		{"last payload byte changed", jws, tampered(payload, len(payload)-1), ErrBadSignature},
		{"payload cut", jws, payload[:len(payload)-1], ErrBadSignature},
		{"signature byte changed", jws[:len(jws)-3] + string(rune(jws[len(jws)-3]^1)) + jws[len(jws)-2:], payload, ErrBadSignature},
		{"signed by another key", Sign(payload, other, "phuong-ben-thanh"), payload, ErrBadSignature},
		{"unknown kid", Sign(payload, other, "phuong-x"), payload, ErrUnknownKey},
		{"unsigned", "", payload, ErrUnsigned},
		{"attached payload", hdr + "." + base64.RawURLEncoding.EncodeToString(payload) + ".AAAA", payload, ErrBadSignature},
		{"alg none", b64(`{"alg":"none","b64":false,"crit":["b64"],"kid":"phuong-ben-thanh"}`) + "..", payload, ErrBadSignature},
		{"b64 true", b64(`{"alg":"EdDSA","kid":"phuong-ben-thanh"}`) + ".." + strings.Split(jws, "..")[1], payload, ErrBadSignature},
		{"extra header field", b64(`{"alg":"EdDSA","b64":false,"crit":["b64"],"kid":"k","x5u":"http://x"}`) + ".." + strings.Split(jws, "..")[1], payload, ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(c.jws, c.payload, lookup)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestPublicKeyText(t *testing.T) {
	pub := testKey(t, 3).Public().(ed25519.PublicKey)
	got, err := ParsePublicKey(FormatPublicKey(pub))
	if err != nil || !got.Equal(pub) {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "ed25519:", "rsa:AAAA", "ed25519:AAAA", "ed25519:!!"} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLoadOrCreateKeyKeepsKey(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateKey(dir)
	if err != nil || !a.Equal(b) {
		t.Fatalf("second load gave another key: %v", err)
	}
}

func FuzzParseJWS(f *testing.F) {
	key := testKey(f, 1)
	f.Add(Sign([]byte("x"), key, "k"))
	f.Add("")
	f.Add("a..b")
	f.Add(b64(`{"alg":"EdDSA","b64":false,"crit":["b64"],"kid":"k"}`) + "..AAAA")
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, s string) {
		kid, _, sig, err := ParseJWS(s)
		if err == nil && (kid == "" || len(sig) != ed25519.SignatureSize) {
			t.Fatalf("accepted a bad JWS: kid %q, %d-byte signature", kid, len(sig))
		}
		if _, err := Verify(s, []byte("x"), func(string) (ed25519.PublicKey, bool) { return pub, true }); err == nil && s != Sign([]byte("x"), key, "k") {
			// Ed25519 signatures are deterministic; any other accepted
			// string would be a forgery.
			t.Fatalf("verified a string that is not our signature: %q", s)
		}
	})
}
