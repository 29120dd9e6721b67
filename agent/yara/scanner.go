//go:build cgo

package yara

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	goyara "lachan/agent/yara/libyara"
)

// Scanner scans files with one rule set under the limits of a Config:
// cfg.Workers files at once, an average CPU bound, a per-file timeout and
// size cap, a memory guard, and the incremental cache. It is safe for
// concurrent use; found is never called concurrently by one ScanPaths.
type Scanner struct {
	rules *Rules
	cfg   Config
	cache *Cache
	log   *slog.Logger
	key   string // cache key: the rules and the settings rules can see

	idle chan *worker // scanners kept between ScanFile calls
	mu   sync.Mutex   // serializes found across workers

	namedMu sync.Mutex
	named   map[runawayKey][]string // the rules found at fault, per file version
}

// runawayKey is one version of a file that timed out: the rules at fault
// are looked for once, not at every scheduled scan that times out again.
type runawayKey struct {
	path  string
	size  int64
	mtime int64
}

// maxNamed bounds Scanner.named; past it the map starts again.
const maxNamed = 256

// worker is one libyara scanner and its share of the CPU bound.
type worker struct {
	sc *goyara.Scanner
	th *throttle
}

// NewScanner checks cfg and returns a scanner for rules; cache may be nil
// (every file is scanned) and log may be nil.
func NewScanner(rules *Rules, cfg Config, cache *Cache, log *slog.Logger) (*Scanner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rules == nil || rules.rules == nil {
		return nil, errors.New("yara: no rules compiled")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	limitArenas()
	return &Scanner{
		rules: rules, cfg: cfg, cache: cache, log: log,
		key:  rules.Fingerprint() + " file_variables=" + strconv.FormatBool(cfg.FileVariables),
		idle: make(chan *worker, cfg.Workers),
	}, nil
}

// Rules returns the rule set the scanner uses.
func (s *Scanner) Rules() *Rules { return s.rules }

// Close frees the libyara scanners kept for ScanFile and saves the cache.
func (s *Scanner) Close() error {
	for {
		select {
		case w := <-s.idle:
			w.sc.Destroy()
		default:
			return s.cache.Save()
		}
	}
}

func (s *Scanner) newWorker() (*worker, error) {
	sc, err := s.rules.newScanner(s.cfg)
	if err != nil {
		return nil, err
	}
	return &worker{sc: sc, th: newThrottle(s.cfg.MaxCPUPercent, s.cfg.Workers)}, nil
}

// ScanPaths walks paths (files or directories; symbolic links are not
// followed) and reports every match to found. Files the cache knows
// unchanged are counted and not scanned: their findings were reported
// when they were. Files larger than MaxFileSize, and anything but regular
// files, are skipped; a file that cannot be read is counted and the walk
// goes on. The cache is saved at the end. The error is ctx's when
// cancelled, or names the paths that could not be walked.
func (s *Scanner) ScanPaths(ctx context.Context, paths []string, found func(Finding)) (ScanStats, error) {
	var st ScanStats
	workers := make([]*worker, s.cfg.Workers)
	for i := range workers {
		w, err := s.newWorker()
		if err != nil {
			for _, w := range workers[:i] {
				w.sc.Destroy()
			}
			return st, err
		}
		workers[i] = w
	}
	jobs := make(chan string, 64)
	results := make([]ScanStats, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() {
			defer w.sc.Destroy()
			for p := range jobs {
				if ctx.Err() == nil {
					s.scanPath(ctx, w, p, &results[i], found)
				}
			}
		})
	}
	rootErrs := s.walk(ctx, paths, jobs, &st)
	close(jobs)
	wg.Wait()
	for _, r := range results {
		st.add(r)
	}
	trimHeap() // the scanners' match lists, freed, go back to the system
	if err := s.cache.Save(); err != nil {
		s.log.Warn("YARA scan cache not saved", "err", err)
	}
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	return st, errors.Join(rootErrs...)
}

// walk sends every file under paths to jobs.
func (s *Scanner) walk(ctx context.Context, paths []string, jobs chan<- string, st *ScanStats) []error {
	var rootErrs []error
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				if p == root {
					return err
				}
				st.fileError(err)
				return nil
			}
			if excluded(p, s.cfg.Exclude) && p != root {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			select {
			case jobs <- p:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			rootErrs = append(rootErrs, fmt.Errorf("scan %s: %w", root, err))
		}
	}
	return rootErrs
}

// ScanFile scans one file as ScanPaths would, with a scanner kept for
// the next call; the watcher uses it. The cache is not saved here.
func (s *Scanner) ScanFile(ctx context.Context, path string, found func(Finding)) (ScanStats, error) {
	var st ScanStats
	var w *worker
	select {
	case w = <-s.idle:
	default:
		var err error
		if w, err = s.newWorker(); err != nil {
			return st, err
		}
	}
	s.scanPath(ctx, w, path, &st, found)
	select {
	case s.idle <- w:
	default:
		w.sc.Destroy()
	}
	return st, nil
}

func (s *Scanner) scanPath(ctx context.Context, w *worker, p string, st *ScanStats, found func(Finding)) {
	// Lstat first: opening a FIFO or a device could block or never end.
	fi, err := os.Lstat(p)
	if err != nil {
		st.fileError(err)
		return
	}
	if !fi.Mode().IsRegular() || fi.Size() > s.cfg.MaxFileSize {
		st.Skipped++
		return
	}
	if s.cache.Unchanged(s.key, p, fi) {
		st.Unchanged++
		return
	}
	if s.overMemory(fi.Size()) {
		st.MemorySkipped++
		return
	}
	start := time.Now()
	lfi := fi
	findings, fi, err := s.scanRegular(ctx, w.sc, p)
	if errors.Is(err, goyara.ErrScanTimeout) {
		err = s.runaway(ctx, p, lfi, st, err)
	}
	w.th.after(ctx, time.Since(start))
	switch {
	case err != nil:
		st.fileError(err)
		return
	case fi == nil:
		st.Skipped++
		return
	}
	st.Files++
	st.Bytes += fi.Size()
	if len(findings) == 0 {
		s.cache.Record(s.key, p, fi, time.Now())
		return
	}
	// Done only once the server has the findings: see Cache.
	s.cache.RecordPending(s.key, p, fi, time.Now(), len(findings))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fd := range findings {
		st.Findings++
		found(fd)
	}
}

// scanRegular opens and scans p; a nil FileInfo and error mean the file
// was replaced by something not to be scanned between Lstat and Open.
func (s *Scanner) scanRegular(ctx context.Context, sc *goyara.Scanner, p string) ([]Finding, fs.FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > s.cfg.MaxFileSize {
		return nil, nil, nil
	}
	findings, err := s.rules.scanOpen(ctx, sc, f, p, fi, s.cfg)
	return findings, fi, err
}

// overMemory reports whether a file of size must wait because the
// process already holds more than MaxRSS.
func (s *Scanner) overMemory(size int64) bool {
	if s.cfg.MaxRSS <= 0 || size <= s.cfg.MemoryGuardSize {
		return false
	}
	rss, ok := residentBytes()
	return ok && rss > s.cfg.MaxRSS
}

// runaway counts a file that ran out of FileTimeout, names the rules at
// fault (once per version of the file) in st and the log, and returns
// err with their names.
func (s *Scanner) runaway(ctx context.Context, p string, fi fs.FileInfo, st *ScanStats, err error) error {
	st.TimedOut++
	key := runawayKey{p, fi.Size(), fi.ModTime().UnixNano()}
	s.namedMu.Lock()
	rules, ok := s.named[key]
	s.namedMu.Unlock()
	if !ok {
		rules = s.rules.runawayRules(ctx, p, s.cfg)
		if ctx.Err() == nil {
			s.namedMu.Lock()
			if s.named == nil || len(s.named) >= maxNamed {
				s.named = map[runawayKey][]string{}
			}
			s.named[key] = rules
			s.namedMu.Unlock()
		}
	}
	if len(st.Runaways) < keepErrors {
		st.Runaways = append(st.Runaways, Runaway{Path: p, Timeout: s.cfg.FileTimeout, Rules: rules})
	}
	s.log.Warn("YARA scan of a file ran out of time", "path", p, "file_timeout", s.cfg.FileTimeout, "rules", rules)
	if len(rules) == 0 {
		return err
	}
	return fmt.Errorf("%w after %s; ran away: %s", err, s.cfg.FileTimeout, strings.Join(rules, ", "))
}
