//go:build cgo

package yara

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	goyara "lachan/agent/yara/libyara"
)

// ScanFile scans one file with the default settings.
func (r *Rules) ScanFile(path string) ([]Finding, error) {
	sc, err := r.newScanner(DefaultConfig())
	if err != nil {
		return nil, err
	}
	defer sc.Destroy()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("scan %s: not a regular file", path)
	}
	return r.scanOpen(context.Background(), sc, f, path, fi, DefaultConfig())
}

// ScanPaths scans paths once with cfg and no cache; see
// Scanner.ScanPaths.
func (r *Rules) ScanPaths(ctx context.Context, paths []string, cfg Config, found func(Finding)) (ScanStats, error) {
	s, err := NewScanner(r, cfg, nil, nil)
	if err != nil {
		return ScanStats{}, err
	}
	defer s.Close()
	return s.ScanPaths(ctx, paths, found)
}

func excluded(p string, exclude []string) bool {
	for _, x := range exclude {
		if p == x || strings.HasPrefix(p, strings.TrimSuffix(x, string(filepath.Separator))+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// scanOpen scans an open regular file and hashes it if anything matched.
func (r *Rules) scanOpen(ctx context.Context, sc *goyara.Scanner, f *os.File, p string, fi fs.FileInfo, cfg Config) ([]Finding, error) {
	if err := r.setFileVariables(sc, f, p, fi, cfg.FileVariables); err != nil {
		return nil, fmt.Errorf("scan %s: %w", p, err)
	}
	cb := &collector{ctx: ctx}
	sc.SetCallback(cb)
	err := sc.ScanFileDescriptor(f.Fd())
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", p, err)
	}
	if len(cb.found) == 0 {
		return nil, nil
	}
	sum, err := hashFile(f)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", p, err)
	}
	now := time.Now().UTC()
	for i := range cb.found {
		cb.found[i].Path, cb.found[i].Size, cb.found[i].SHA256, cb.found[i].Time = p, fi.Size(), sum, now
	}
	return cb.found, nil
}

func hashFile(f *os.File) (string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (r *Rules) newScanner(cfg Config) (*goyara.Scanner, error) {
	if r == nil || r.rules == nil {
		return nil, errors.New("yara: no rules compiled")
	}
	limitMatchData()
	sc, err := goyara.NewScanner(r.rules)
	if err != nil {
		return nil, fmt.Errorf("yara scanner: %w", err)
	}
	sc.SetTimeout(cfg.FileTimeout)
	// Findings say which rules matched, never where or how often, and
	// fast mode changes only that: once a string a rule asks about only
	// as "there or not" has matched, libyara stops verifying it. On a
	// megabyte of one letter, a regular expression like Yara-Rules'
	// base64 or domain rule otherwise matches at every offset, each match
	// verified again and kept (hundreds of MB, minutes of CPU); fast mode
	// verifies it once.
	sc.SetFlags(goyara.ScanFlagsFastMode)
	return sc, nil
}

// setFileVariables gives the rules the file's name, path, extension, type
// and owner, or empty strings as the yara command does unless told.
func (r *Rules) setFileVariables(sc *goyara.Scanner, f *os.File, p string, fi fs.FileInfo, on bool) error {
	vals := map[string]string{"filename": "", "filepath": "", "extension": "", "filetype": "", "owner": ""}
	if on {
		ext := strings.ToLower(filepath.Ext(p))
		head := make([]byte, 8)
		n, _ := f.ReadAt(head, 0)
		vals["filename"] = filepath.Base(p)
		vals["filepath"] = filepath.Dir(p)
		vals["extension"] = ext
		vals["filetype"] = fileType(head[:n], ext)
		vals["owner"] = fileOwner(fi)
	}
	for _, k := range externals {
		if err := sc.DefineVariable(k, vals[k]); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	return nil
}

// collector keeps what each matching rule says about itself; it stops
// the scan when the context ends.
type collector struct {
	ctx   context.Context
	found []Finding
}

func (c *collector) RuleMatching(_ *goyara.ScanContext, rule *goyara.Rule) (bool, error) {
	fd := Finding{Rule: rule.Identifier(), Namespace: rule.Namespace(), Tags: rule.Tags()}
	if metas := rule.Metas(); len(metas) > 0 {
		fd.Meta = make(map[string]any, len(metas))
		for _, m := range metas {
			if _, dup := fd.Meta[m.Identifier]; !dup { // the first of repeated keys wins
				fd.Meta[m.Identifier] = m.Value
			}
		}
	}
	c.found = append(c.found, fd)
	return c.ctx.Err() != nil, nil
}

// maxMatchData is how many bytes of each string match libyara copies
// (its default is 512). Findings never carry matched bytes, and nothing
// in a condition reads the copy, but a string counted in a condition
// (#a > 5) is still kept at every offset it matches, up to a million
// matches: at 512 bytes each, half a gigabyte for one string.
const maxMatchData = 16

var matchDataOnce sync.Once

// limitMatchData sets libyara's process-wide copy bound once.
func limitMatchData() {
	matchDataOnce.Do(func() { _ = goyara.SetConfiguration(goyara.ConfigMaxMatchData, maxMatchData) })
}
