package action

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/action"
)

const testAgent = "agent-1"

type rig struct {
	t    *testing.T
	dir  string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
	ex   *Executor
}

func newRig(t *testing.T) *rig {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	r := &rig{t: t, dir: t.TempDir(), pub: pub, priv: priv}
	r.open()
	return r
}

// open (re)opens the executor on the rig's state, as an agent start does.
func (r *rig) open() {
	r.t.Helper()
	cfg := DefaultConfig()
	cfg.Dir = filepath.Join(r.dir, "state")
	ex, err := New(cfg, testAgent, func() ed25519.PublicKey { return r.pub }, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		r.t.Fatal(err)
	}
	r.ex = ex
}

func (r *rig) action(id, kind string, args map[string]string) action.Action {
	now := time.Now()
	return action.Action{ID: id, AgentID: testAgent, Kind: kind, Args: args, Issued: now, Expires: now.Add(time.Hour), Nonce: action.NewNonce()}
}

// signRaw signs without Sign's checks, as a forger or a broken server would.
func signRaw(a action.Action, k ed25519.PrivateKey) action.Signed {
	b, _ := json.Marshal(a)
	return action.Signed{Payload: b, Signature: ed25519.Sign(k, b)}
}

// results reads the outbox, oldest first.
func (r *rig) results() []action.Result {
	r.t.Helper()
	names, err := r.ex.out.pending()
	if err != nil {
		r.t.Fatal(err)
	}
	var out []action.Result
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(r.ex.out.dir, n))
		if err != nil {
			r.t.Fatal(err)
		}
		var res action.Result
		if err := json.Unmarshal(b, &res); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, res)
	}
	return out
}

func (r *rig) last() action.Result {
	res := r.results()
	if len(res) == 0 {
		r.t.Fatal("no result in the outbox")
	}
	return res[len(res)-1]
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
}

func quarantined(t *testing.T, r *rig) int {
	ents, err := os.ReadDir(filepath.Join(r.ex.cfg.Dir, quarantineDir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(ents)
}

// TestActionForgedRefused: a forged, an expired, a replayed (by ID, by
// nonce, and after a restart) and a misdirected action are each refused
// with their reason, and none touches the file it names.
func TestActionForgedRefused(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	victim := filepath.Join(r.dir, "victim.txt")
	writeFile(t, victim, "do not touch")
	_, otherKey, _ := ed25519.GenerateKey(nil)
	q := map[string]string{"path": victim}

	expired := r.action("expired-1", action.KindQuarantineFile, q)
	expired.Issued, expired.Expires = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	misdirected := r.action("misdirected-1", action.KindQuarantineFile, q)
	misdirected.AgentID = "agent-2"
	tampered := signRaw(r.action("tampered-1", action.KindQuarantineFile, map[string]string{"path": "/nonexistent"}), r.priv)
	tampered.Payload = []byte(strings.Replace(string(tampered.Payload), "/nonexistent", victim, 1))

	cases := []struct {
		name   string
		signed action.Signed
		reason string
	}{
		{"forged", signRaw(r.action("forged-1", action.KindQuarantineFile, q), otherKey), "forged"},
		{"tampered", tampered, "forged"},
		{"expired", signRaw(expired, r.priv), "expired"},
		{"misdirected", signRaw(misdirected, r.priv), "misdirected"},
		{"garbage", action.Signed{Payload: []byte("{not json"), Signature: []byte("x")}, "forged"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.ex.Handle(ctx, []action.Signed{c.signed})
			res := r.last()
			if res.Status != action.ResultRefused || !strings.Contains(res.Reason, c.reason) {
				t.Fatalf("result %+v, want refused: %s", res, c.reason)
			}
			if _, err := os.Stat(victim); err != nil || quarantined(t, r) != 0 {
				t.Fatalf("a refused action touched the file (stat: %v, quarantined %d)", err, quarantined(t, r))
			}
		})
	}

	// A genuine action runs once; sent again, after a restart, or under a
	// new ID with its nonce, it is refused as replayed.
	other := filepath.Join(r.dir, "other.txt")
	writeFile(t, other, "other")
	good := r.action("good-1", action.KindCollectFile, map[string]string{"path": other})
	signed := signRaw(good, r.priv)
	r.ex.Handle(ctx, []action.Signed{signed})
	if res := r.last(); res.Status != action.ResultDone || string(res.File) != "other" {
		t.Fatalf("genuine action: %+v", res)
	}
	sameNonce := r.action("good-2", action.KindQuarantineFile, q)
	sameNonce.Nonce = good.Nonce
	for i, s := range []action.Signed{signed, signRaw(sameNonce, r.priv)} {
		if i == 1 {
			r.open() // the memory of what ran is on disk
		}
		r.ex.Handle(ctx, []action.Signed{s})
		if res := r.last(); res.Status != action.ResultRefused || !strings.Contains(res.Reason, "replayed") {
			t.Fatalf("replay %d: %+v", i, res)
		}
	}
	if _, err := os.Stat(victim); err != nil || quarantined(t, r) != 0 {
		t.Fatalf("a replayed action touched the file (stat: %v)", err)
	}
	r.open()
	r.ex.Handle(ctx, []action.Signed{signed})
	if res := r.last(); res.Status != action.ResultRefused || !strings.Contains(res.Reason, "replayed") {
		t.Fatalf("replay after restart: %+v", res)
	}
}

// TestInterruptedNotRunAgain: an action recorded as started by an agent
// that then died is reported as interrupted at the next start, and
// refused if it comes again.
func TestInterruptedNotRunAgain(t *testing.T) {
	r := newRig(t)
	a := r.action("crash-1", action.KindIsolate, nil)
	if err := r.ex.led.begin(a, time.Now()); err != nil {
		t.Fatal(err)
	}
	r.open()
	res := r.last()
	if res.ActionID != "crash-1" || res.Status != action.ResultFailed || !strings.Contains(res.Reason, "interrupted") {
		t.Fatalf("after the crash: %+v", res)
	}
	r.ex.Handle(context.Background(), []action.Signed{signRaw(a, r.priv)})
	if res := r.last(); res.Status != action.ResultRefused {
		t.Fatalf("the interrupted action ran again: %+v", res)
	}
}

// TestQuarantineRestore: a file quarantined and restored comes back byte
// for byte with its mode and its access and modification times.
func TestQuarantineRestore(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	path := filepath.Join(r.dir, "sample.bin")
	body := make([]byte, 300_000)
	for i := range body {
		body[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o751|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	atime := time.Date(2024, 2, 29, 1, 2, 3, 123456789, time.UTC)
	mtime := time.Date(2023, 12, 31, 23, 59, 58, 987654321, time.UTC)
	if err := os.Chtimes(path, atime, mtime); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	var bq Quarantined
	fileMeta(before, &bq)

	r.ex.Handle(ctx, []action.Signed{signRaw(r.action("q-1", action.KindQuarantineFile, map[string]string{"path": path}), r.priv)})
	res := r.last()
	if res.Status != action.ResultDone {
		t.Fatalf("quarantine: %+v", res)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file still in place after quarantine: %v", err)
	}
	if res.Evidence["file.hash.sha256"] == "" || res.Evidence["file.size"] != "300000" || res.Evidence["file.mode"] != "04751" {
		t.Fatalf("evidence: %v", res.Evidence)
	}
	stored, err := os.Stat(filepath.Join(r.ex.quarantineDir("q-1"), quarantineData))
	if err != nil || stored.Mode().Perm() != 0o400 {
		t.Fatalf("quarantined copy: %v %v", stored, err)
	}

	r.ex.Handle(ctx, []action.Signed{signRaw(r.action("r-1", action.KindRestoreFile, map[string]string{"quarantine": "q-1"}), r.priv)})
	if res := r.last(); res.Status != action.ResultDone {
		t.Fatalf("restore: %+v", res)
	}
	// Stat before reading: reading moves the access time.
	after, _ := os.Stat(path)
	var aq Quarantined
	fileMeta(after, &aq)
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(body) {
		t.Fatalf("restored content differs (%d bytes, err %v)", len(got), err)
	}
	if after.Mode() != before.Mode() || !after.ModTime().Equal(mtime) || !aq.ATime.Equal(bq.ATime) || aq.UID != bq.UID || aq.GID != bq.GID {
		t.Fatalf("restored metadata: mode %v (was %v), mtime %v (was %v), atime %v (was %v), owner %d:%d (was %d:%d)",
			after.Mode(), before.Mode(), after.ModTime(), mtime, aq.ATime, bq.ATime, aq.UID, aq.GID, bq.UID, bq.GID)
	}
	if quarantined(t, r) != 0 {
		t.Fatal("quarantine copy left behind after restore")
	}
	// Restoring twice finds nothing; a file in the way is never replaced.
	r.ex.Handle(ctx, []action.Signed{signRaw(r.action("r-2", action.KindRestoreFile, map[string]string{"quarantine": "q-1"}), r.priv)})
	if res := r.last(); res.Status != action.ResultFailed {
		t.Fatalf("second restore: %+v", res)
	}
}

func TestQuarantineRefusesNonRegular(t *testing.T) {
	r := newRig(t)
	link := filepath.Join(r.dir, "link")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{link, r.dir, "relative/path", filepath.Join(r.ex.cfg.Dir, ledgerFile)} {
		r.ex.Handle(context.Background(), []action.Signed{signRaw(r.action("nr-"+string(rune('a'+i)), action.KindQuarantineFile, map[string]string{"path": p}), r.priv)})
		if res := r.last(); res.Status != action.ResultFailed {
			t.Fatalf("quarantine of %s: %+v", p, res)
		}
	}
}

func TestCollectCapped(t *testing.T) {
	r := newRig(t)
	r.ex.cfg.CollectMaxBytes = 10
	path := filepath.Join(r.dir, "big")
	writeFile(t, path, "0123456789ABC")
	r.ex.Handle(context.Background(), []action.Signed{signRaw(r.action("c-1", action.KindCollectFile, map[string]string{"path": path}), r.priv)})
	res := r.last()
	if res.Status != action.ResultFailed || res.File != nil || res.Evidence["file.size"] != "13" || res.Evidence["file.hash.sha256"] == "" {
		t.Fatalf("collect above the cap: %+v", res)
	}
}

// FuzzHandle: whatever a check-in carries, the agent never crashes and
// runs nothing that does not verify.
func FuzzHandle(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Now()
	good, _ := json.Marshal(action.Action{ID: "f-1", AgentID: testAgent, Kind: action.KindOsquery, Args: map[string]string{"sql": "select 1"},
		Issued: now, Expires: now.Add(time.Hour), Nonce: action.NewNonce()})
	f.Add(good, ed25519.Sign(priv, good))
	f.Add([]byte(`{"id":"x"}`), []byte{})
	f.Add([]byte(`null`), make([]byte, 64))
	dir := f.TempDir()
	cfg := DefaultConfig()
	cfg.Dir = dir
	ran := 0
	ex, err := New(cfg, testAgent, func() ed25519.PublicKey { return pub }, func(string, string) error { ran++; return nil },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload, sig []byte) {
		res := ex.handle(context.Background(), action.Signed{Payload: payload, Signature: sig})
		if err := res.Check(); err != nil {
			t.Fatalf("result the server would refuse: %v (%+v)", err, res)
		}
		if res.Status != action.ResultRefused && !ed25519.Verify(pub, payload, sig) {
			t.Fatalf("an action that does not verify was run: %+v", res)
		}
	})
}
