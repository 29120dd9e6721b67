package action

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func testAction(now time.Time) Action {
	return Action{ID: "a1", AgentID: "agent-1", Kind: KindQuarantineFile, Args: map[string]string{"path": "/tmp/x"},
		Issued: now, Expires: now.Add(time.Hour), Nonce: NewNonce()}
}

func TestVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, otherPriv, _ := ed25519.GenerateKey(nil)
	_ = otherPub
	now := time.Now()
	good := testAction(now)
	sign := func(a Action, k ed25519.PrivateKey) Signed {
		// Sign checks the action; these tests sign raw to reach Verify's own checks.
		b, _ := json.Marshal(a)
		return Signed{Payload: b, Signature: ed25519.Sign(k, b)}
	}
	tampered := sign(good, priv)
	tampered.Payload = []byte(string(tampered.Payload[:len(tampered.Payload)-1]) + " }")
	expired := good
	expired.Issued, expired.Expires = now.Add(-2*time.Hour), now.Add(-time.Hour)
	future := good
	future.Issued, future.Expires = now.Add(time.Hour), now.Add(2*time.Hour)
	long := good
	long.Expires = now.Add(MaxLifetime + time.Hour)
	badKind := good
	badKind.Kind = "format-disk"
	extraArg := good
	extraArg.Args = map[string]string{"path": "/x", "recursive": "yes"}
	cases := []struct {
		name string
		s    Signed
		pub  ed25519.PublicKey
		want error
	}{
		{"good", sign(good, priv), pub, nil},
		{"other key", sign(good, otherPriv), pub, ErrForged},
		{"tampered", tampered, pub, ErrForged},
		{"no key", sign(good, priv), nil, ErrNoKey},
		{"expired", sign(expired, priv), pub, ErrExpired},
		{"future", sign(future, priv), pub, ErrNotYet},
		{"lifetime", sign(long, priv), pub, ErrMalformed},
		{"kind", sign(badKind, priv), pub, ErrMalformed},
		{"arg", sign(extraArg, priv), pub, ErrUnknownArg},
		{"unknown field", func() Signed {
			b := []byte(`{"id":"a1","agent_id":"agent-1","kind":"isolate","issued":"2026-01-01T00:00:00Z","expires":"2026-01-02T00:00:00Z","nonce":"00000000000000000000000000000000","shell":"rm -rf /"}`)
			return Signed{Payload: b, Signature: ed25519.Sign(priv, b)}
		}(), pub, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(c.s, c.pub, "agent-1", now)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v, want %v", err, c.want)
			}
		})
	}
	if _, err := Verify(sign(good, priv), pub, "agent-2", now); !errors.Is(err, ErrMisdirect) {
		t.Fatalf("misdirected: %v", err)
	}
}

func TestSignRefusesBadAction(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	a := testAction(time.Now())
	a.Args = nil
	if _, err := Sign(a, priv); err == nil {
		t.Fatal("quarantine-file without a path was signed")
	}
}

func TestClaimed(t *testing.T) {
	id, agent := Claimed([]byte(`{"id":"x-1","agent_id":"../etc"}`))
	if id != "x-1" || agent != "" {
		t.Fatalf("Claimed = %q %q", id, agent)
	}
	if id, _ := Claimed([]byte(`not json`)); id != "" {
		t.Fatalf("Claimed of junk = %q", id)
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := json.Marshal(testAction(time.Unix(1e9, 0)))
	f.Add(b)
	f.Add([]byte(`{"id":"a","agent_id":"b","kind":"isolate"}`))
	f.Add([]byte(`{}{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(data)
		if err != nil {
			return
		}
		if err := a.Check(); err != nil {
			t.Fatalf("Decode accepted an action Check refuses: %v", err)
		}
		Claimed(data)
	})
}

// FuzzResult: whatever an agent posts decodes and checks without a crash.
func FuzzResult(f *testing.F) {
	f.Add([]byte(`{"action_id":"a1","status":"done","evidence":{"x":"y"},"file":"eA=="}`))
	f.Add([]byte(`{"action_id":"","status":"maybe"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Result
		if json.Unmarshal(data, &r) != nil {
			return
		}
		if r.Check() == nil && (r.Status != ResultDone && r.Status != ResultFailed && r.Status != ResultRefused) {
			t.Fatalf("status %q accepted", r.Status)
		}
	})
}
