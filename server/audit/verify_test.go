package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"lachan/server/store/embedded/embeddedtest"
)

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sample is an exported trail of 9 records, a checkpoint at 5 and at 9.
func sample(t *testing.T) ([][]byte, ed25519.PublicKey) {
	t.Helper()
	ctx := context.Background()
	tr := openTrail(t, embeddedtest.Open(t), newKey(t))
	for i := range 8 {
		if err := tr.Record(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
		if i == 3 || i == 7 {
			if _, err := tr.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	lines := bytes.Split(bytes.TrimSpace(export(t, tr)), []byte("\n"))
	if len(lines) != 10 {
		t.Fatalf("%d lines", len(lines))
	}
	return lines, tr.PublicKey()
}

func decode(t *testing.T, line []byte) Record {
	t.Helper()
	r, err := parseRecord(line)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rehash recomputes a changed record's hash (and re-signs a checkpoint
// with key), as someone covering their tracks would.
func rehash(t *testing.T, r Record, key ed25519.PrivateKey) []byte {
	r.Hash = r.Sum()
	if key != nil {
		r.sign(key)
	}
	return mustJSON(t, r)
}

func TestVerifyCatchesTampering(t *testing.T) {
	forger := newKey(t)
	tests := []struct {
		name   string
		tamper func(lines [][]byte) [][]byte
		seq    uint64
		reason string
	}{
		{"detail changed", func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`"n":2`), []byte(`"n":3`), 1)
			return l
		}, 3, Changed},
		{"actor changed and rehashed", func(l [][]byte) [][]byte {
			r := decode(t, l[2])
			r.Actor = "someone-else"
			l[2] = rehash(t, r, nil)
			return l
		}, 3, Changed},
		{"record removed", func(l [][]byte) [][]byte { return append(l[:3:3], l[4:]...) }, 4, Removed},
		{"records removed", func(l [][]byte) [][]byte { return append(l[:3:3], l[6:]...) }, 4, Removed},
		{"first record removed", func(l [][]byte) [][]byte { return l[1:] }, 1, Removed},
		{"records swapped", func(l [][]byte) [][]byte {
			l[3], l[4] = l[4], l[3]
			return l
		}, 4, Swapped},
		{"record moved back", func(l [][]byte) [][]byte {
			return [][]byte{l[0], l[1], l[2], l[3], l[5], l[6], l[4], l[7]}
		}, 5, Swapped},
		{"record duplicated", func(l [][]byte) [][]byte { return append(l[:4:4], l[3:]...) }, 4, Swapped},
		{"checkpoint signature forged", func(l [][]byte) [][]byte {
			r := decode(t, l[4])
			r.sign(forger)
			l[4] = mustJSON(t, r)
			return l
		}, 5, BadSignature},
		{"whole chain rewritten and re-signed", func(l [][]byte) [][]byte {
			prev := Genesis
			for i := range l {
				r := decode(t, l[i])
				if i == 1 {
					r.Object = "nothing-to-see"
				}
				r.Prev = prev
				var key ed25519.PrivateKey
				if r.Action == ActionCheckpoint {
					key = forger
				}
				l[i] = rehash(t, r, key)
				prev = decode(t, l[i]).Hash
			}
			return l
		}, 5, BadSignature},
		{"signature stripped", func(l [][]byte) [][]byte {
			r := decode(t, l[4])
			r.Sig = ""
			l[4] = mustJSON(t, r)
			return l
		}, 5, BadSignature},
		{"line not a record", func(l [][]byte) [][]byte {
			l[6] = []byte(`{"seq": 7, "extra": true}`)
			return l
		}, 7, Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines, pub := sample(t)
			in := bytes.Join(tc.tamper(lines), []byte("\n"))
			_, err := Verify(bytes.NewReader(in), pub)
			var b *Broken
			if !errors.As(err, &b) {
				t.Fatalf("want a broken chain, got %v", err)
			}
			if b.Seq != tc.seq || b.Reason != tc.reason {
				t.Fatalf("got record %d %s (%v), want record %d %s", b.Seq, b.Reason, err, tc.seq, tc.reason)
			}
		})
	}
}

// TestVerifyReformatted: an export reformatted by a tool that keeps the
// JSON values (indentation inside detail, CRLF line ends, blank lines)
// still verifies.
func TestVerifyReformatted(t *testing.T) {
	lines, pub := sample(t)
	r := decode(t, lines[1])
	var buf bytes.Buffer
	_ = json.Indent(&buf, r.Detail, "", "  ")
	r.Detail = buf.Bytes()
	lines[1] = bytes.ReplaceAll(mustJSON(t, r), []byte("\n"), nil)
	in := bytes.Join(lines, []byte("\r\n\r\n"))
	if _, err := Verify(bytes.NewReader(in), pub); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(lines[1]), `"detail":{`) {
		t.Fatalf("detail not kept as an object: %s", lines[1])
	}
}
