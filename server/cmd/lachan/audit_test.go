package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lachan/server/audit"
	"lachan/server/forward"
	"lachan/server/pki"
	"lachan/server/store/embedded/embeddedtest"
)

// TestAuditVerifyFile runs `audit verify --file` over an export of a
// trail signed with the data directory's audit key, intact and tampered
// with, and checks what it prints and the exit code.
func TestAuditVerifyFile(t *testing.T) {
	data := t.TempDir()
	ca, err := pki.LoadOrCreate(filepath.Join(data, "pki"), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tr, err := audit.Open(ctx, embeddedtest.Open(t), ca.AuditSigner(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, action := range []string{"unit.put", "live.query", "agent.revoke", "indicator.add", "system.update"} {
		if err := tr.Record(ctx, audit.Entry{Actor: "admin", Role: "admin", Action: action, Object: "x", Outcome: audit.OutcomeSuccess,
			Detail: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if _, err := tr.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	var export bytes.Buffer
	last, _, _ := tr.Head(ctx)
	if err := tr.Export(ctx, &export, 0, last); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(export.String()), "\n")
	write := func(lines []string) string {
		p := filepath.Join(t.TempDir(), "audit.jsonl")
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	out, _, err := run(t, "--data-dir", data, "audit", "verify", "--file", write(lines))
	if exitCode(err) != 0 || !strings.Contains(out, "intact: 6 records, 1 checkpoints") || !strings.Contains(out, "2 record(s) after it") {
		t.Fatalf("intact trail: exit %d %v\n%s", exitCode(err), err, out)
	}

	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherKey := forward.FormatPublicKey(other.Public().(ed25519.PublicKey))
	tests := []struct {
		name string
		in   []string
		args []string
		want string
	}{
		{"changed", append(append([]string{}, lines[:1]...), append([]string{strings.Replace(lines[1], `"i":1`, `"i":7`, 1)}, lines[2:]...)...), nil, "record 2 (line 2): changed"},
		{"removed", append(append([]string{}, lines[:2]...), lines[3:]...), nil, "record 3 (line 3): removed"},
		{"swapped", []string{lines[0], lines[2], lines[1], lines[3], lines[4], lines[5]}, nil, "record 2 (line 3): swapped"},
		{"other key", lines, []string{"--key", otherKey}, "record 4 (line 4): signature bad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--data-dir", data, "audit", "verify", "--file", write(tc.in)}, tc.args...)
			out, _, err := run(t, args...)
			if exitCode(err) != 1 || !errors.Is(err, errTrailBroken) || !strings.Contains(out, "BROKEN at "+tc.want) {
				t.Fatalf("exit %d %v\n%s", exitCode(err), err, out)
			}
		})
	}

	if _, _, err := run(t, "--data-dir", data, "audit", "verify", "--file", filepath.Join(data, "missing.jsonl")); exitCode(err) != 1 || errors.Is(err, errTrailBroken) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLastLine(t *testing.T) {
	var l lastLine
	for _, p := range []string{"{\"a\"", ":1}\n{\"b\":2", "}\n", "\n  \n"} {
		l.Write([]byte(p))
	}
	if string(l.last()) != `{"b":2}` {
		t.Fatalf("last line %q", l.last())
	}
}
