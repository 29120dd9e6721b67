package audit

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"testing"
)

// FuzzVerify feeds arbitrary exports to the reader and the verifier: they
// must not panic, a line that is not a record is a *LineError, and a
// verdict is either intact or a *Broken naming a record, never both.
func FuzzVerify(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	var good []byte
	prev, now := Genesis, clock()
	for i := range 4 {
		e := entry(i)
		if i == 3 {
			e = Entry{Actor: ActorServer, Action: ActionCheckpoint}
		}
		r, err := newRecord(uint64(i+1), prev, now(), e)
		if err != nil {
			f.Fatal(err)
		}
		if i == 3 {
			r.sign(key)
		}
		good = append(append(good, mustJSON(f, r)...), '\n')
		prev = r.Hash
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"seq":1,"time":"2026-01-01T00:00:00Z","actor":"a","action":"x","detail":[1,2,{"a":null}],"prev":"` + Genesis + `","hash":"00"}`))
	f.Add([]byte(`{"seq":18446744073709551615,"time":"0001-01-01T00:00:00Z","action":"audit.checkpoint","sig":"!!"}`))
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, in []byte) {
		rd := NewReader(bytes.NewReader(in))
		for {
			_, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var le *LineError
			if err != nil && !errors.As(err, &le) {
				t.Fatalf("reader: %v", err)
			}
			if err != nil {
				break
			}
		}
		sum, err := Verify(bytes.NewReader(in), pub)
		var b *Broken
		switch {
		case err == nil:
			if sum.Records > 0 && sum.Last != uint64(sum.Records) {
				t.Fatalf("intact trail of %d records ending at %d", sum.Records, sum.Last)
			}
		case errors.As(err, &b):
			if b.Reason == "" || b.Line < 0 {
				t.Fatalf("broken without a reason: %+v", b)
			}
		default:
			t.Fatalf("verify of a byte stream: %v", err)
		}
	})
}
