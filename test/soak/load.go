package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	// marker is what the soak's own YARA rule looks for. Its findings
	// raise the generic YARA alert, EICAR's its own, so the two kinds of
	// file make incidents of two rules.
	marker     = "LACHAN-SOAK-MARKER"
	markerRule = `rule Lachan_Soak_Marker
{
    strings:
        $m = "` + marker + `"
    condition:
        $m at 0
}
`
	// maxFiles bounds the files of one soak whatever its duration.
	maxFiles = 200000
)

// writeRules makes the agents' rule folder: the repository's EICAR rule
// and the soak's marker rule.
func writeRules(repo, dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(repo, "rules", "yara", "eicar.yar"))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "eicar.yar"), b, 0o600); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "soak.yar"), []byte(markerRule), 0o600)
}

// load drops files that each raise one finding into the agents' folders,
// in bursts of one to three files a second to four seconds apart. Each
// file is written beside the folders and renamed in, so that no scan
// sees it half written. Names are unique across folders.
type load struct {
	rnd   *rand.Rand
	seed  uint64
	dirs  []string
	stage string

	mu      sync.Mutex
	created []string // base names, in the order dropped
	eicars  int
}

func newLoad(seed uint64, dirs []string, stage string) *load {
	return &load{rnd: rand.New(rand.NewPCG(seed^0x5eed, seed>>3)), seed: seed, dirs: dirs, stage: stage}
}

func (l *load) run(ctx context.Context, stop <-chan struct{}) error {
	if err := os.MkdirAll(l.stage, 0o700); err != nil {
		return err
	}
	for seq := 0; seq < maxFiles; {
		gap := time.Second + time.Duration(l.rnd.Int64N(int64(3*time.Second)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return nil
		case <-time.After(gap):
		}
		dir := l.dirs[l.rnd.IntN(len(l.dirs))]
		isEICAR := l.rnd.IntN(2) == 0
		for n := 1 + l.rnd.IntN(3); n > 0 && seq < maxFiles; n-- {
			if err := l.drop(dir, seq, isEICAR); err != nil {
				return err
			}
			seq++
		}
	}
	return nil
}

func (l *load) drop(dir string, seq int, isEICAR bool) error {
	name, body := fmt.Sprintf("f%06d-marker.txt", seq), fmt.Sprintf("%s %d %d %016x\n", marker, l.seed, seq, l.rnd.Uint64())
	if isEICAR {
		// The EICAR rule allows trailing whitespace up to 128 bytes.
		name, body = fmt.Sprintf("f%06d-eicar.txt", seq), eicar+strings.Repeat(" ", seq%61)
	}
	tmp := filepath.Join(l.stage, name)
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	l.mu.Lock()
	l.created = append(l.created, name)
	if isEICAR {
		l.eicars++
	}
	l.mu.Unlock()
	return nil
}

// counts returns how many files were dropped, and how many of them were
// EICAR files.
func (l *load) counts() (files, eicars int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.created), l.eicars
}

// names returns the files dropped.
func (l *load) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.created...)
}
