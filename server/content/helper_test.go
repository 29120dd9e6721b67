package content

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lachan/detections"
	"lachan/server/detect"
)

// packRule is a Sigma rule of the pack under test: an alert on a YARA
// finding of the rule "Ward_Test_Marker".
const packRule = `title: Ward Test Marker Found
id: 6d1f0c52-5a5e-4b0e-9d0e-2f3f6c1f7a10
status: test
description: A YARA scan found the marker file the content-pack test drops.
author: Lá Chắn
date: 2026-12-03
logsource:
  product: lachan
  service: yara
detection:
  selection:
    yara.rule: Ward_Test_Marker
  condition: selection
level: medium
`

const packYARA = `rule Ward_Test_Marker { strings: $a = "ward-test-marker" condition: $a }
`

const packOsquery = `{"queries": {"listening_ports": {"query": "SELECT pid, port FROM listening_ports;", "interval": 3600, "platform": "all", "description": "Listening ports."}}}
`

// ruleTree writes a directory of each kind under a temporary directory
// and returns the sources for Build.
func ruleTree(t testing.TB, sigma string) []Source {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"sigma/lachan/marker.yml":    sigma,
		"sigma/lachan/README.md":     "not a rule",
		"yara/marker.yar":            packYARA,
		"osquery/ports.conf":         packOsquery,
		"sigma/.github/workflow.yml": "on: push",
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out []Source
	for _, k := range Kinds {
		out = append(out, Source{Kind: k, FS: os.DirFS(filepath.Join(dir, k)), Root: ".", Origin: "test " + k, Licence: "Licence of the " + k + " test rules"})
	}
	return out
}

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// signedPack builds and signs a pack of the test rules; the bytes are
// the pack file.
func signedPack(t testing.TB, version, sigma string, key ed25519.PrivateKey) []byte {
	t.Helper()
	return namedPack(t, "ward-rules", version, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), sigma, key)
}

// namedPack builds the pack name at version, made at created, of one
// Sigma rule, signs it with key and returns the pack file.
func namedPack(t testing.TB, name, version string, created time.Time, sigma string, key ed25519.PrivateKey) []byte {
	t.Helper()
	p, err := Build(name, version, created, ruleTree(t, sigma))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Sign(p, key)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func checker(t testing.TB) Checker {
	t.Helper()
	src, err := detect.LoadLogSources(detections.FS, detections.LogSourcesFile)
	if err != nil {
		t.Fatal(err)
	}
	return Checker{LogSources: src}
}
