//go:build cgo

package main

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

var words = strings.Fields(`the report of the ward office budget meeting invoice payment
citizen request approved pending function var return http https www index html div class
script document window powershell cmd exe dll system32 temp user admin password config`)

// makeCorpus writes n files of 1 KiB to 1 MiB (log-uniform, so most are
// small as on a real disk) of mixed kinds into dir, spread over folders,
// and copies the harmless targets in beside them.
func makeCorpus(dir, targets string, n int, seed uint64) (int, int64, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var total int64
	for i := range n {
		size := int(1024 * math.Pow(2, rng.Float64()*10))
		kind := i % 5
		b := content(rng, kind, size)
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("f%05d%s", i, []string{".bin", ".txt", ".exe", ".dat", ".html"}[kind]))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return 0, 0, err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return 0, 0, err
		}
		total += int64(size)
	}
	copied, size, err := copyTree(targets, filepath.Join(dir, "targets"))
	return n + copied, total + size, err
}

// content makes size bytes of one kind: random (archives, media), text,
// PE-like (an MZ header and a PE signature, which wakes the pe module
// and the many rules that test for it), sparse, or HTML with script.
func content(rng *rand.Rand, kind, size int) []byte {
	b := make([]byte, size)
	switch kind {
	case 0:
		fillRandom(rng, b)
	case 1, 4:
		var sb strings.Builder
		if kind == 4 {
			sb.WriteString("<html><head><script>")
		}
		for sb.Len() < size {
			sb.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(12) == 0 {
				sb.WriteString("\n")
			} else {
				sb.WriteString(" ")
			}
		}
		copy(b, sb.String())
	case 2:
		fillRandom(rng, b)
		copy(b, "MZ\x90\x00")
		if size > 0x200 {
			b[0x3c], b[0x3d], b[0x3e], b[0x3f] = 0x80, 0, 0, 0
			copy(b[0x80:], "PE\x00\x00\x4c\x01")
		}
	case 3:
		for j := 0; j < size; j += 1 + rng.IntN(4096) {
			b[j] = byte(rng.Uint32())
		}
	}
	return b
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
}

func copyTree(from, to string) (int, int64, error) {
	var n int
	var total int64
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		c, err := io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		n, total = n+1, total+c
		return err
	})
	return n, total, err
}
