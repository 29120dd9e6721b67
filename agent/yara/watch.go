package yara

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchStats counts what a Watcher did since it started.
type WatchStats struct {
	Files     int64 `json:"files"`     // files scanned after settling
	Findings  int64 `json:"findings"`  // rule matches reported
	Overflows int64 `json:"overflows"` // events dropped: queue full or the kernel's queue overflowed
	Rescans   int64 `json:"rescans"`   // folders rescanned after an overflow or a new subfolder
	Mounts    int64 `json:"mounts"`    // removable drives scanned
	Errors    int64 `json:"errors"`    // files or folders that could not be scanned or watched
}

// Watcher scans new and changed files in watched folders once they have
// settled, and removable drives when they are mounted. Files and folders
// go through the Scanner, so its cache keeps a rescan after an overflow
// cheap and its limits hold here too.
type Watcher struct {
	cfg   WatchConfig
	found func(Finding)
	log   *slog.Logger

	scMu sync.Mutex
	sc   *Scanner

	isMount func(string) bool // replaced in tests: mounting needs privileges

	// Owned by Run's event loop.
	fw      *fsnotify.Watcher
	depth   map[string]int       // watched folder → levels below its path
	pending map[string]time.Time // file → last write seen
	rescan  map[string]bool      // folders to rescan, after an overflow or a new subfolder
	mounts  map[string]bool      // mount points already seen

	files, findings, overflows, rescans, nMounts, errs atomic.Int64
}

// job is one thing for the scanning goroutine: a file, or a whole tree.
type job struct {
	path  string
	tree  bool
	mount bool
}

// NewWatcher checks cfg and returns a watcher that reports matches to
// found, never concurrently. log may be nil.
func NewWatcher(sc *Scanner, cfg WatchConfig, found func(Finding), log *slog.Logger) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sc == nil {
		return nil, errors.New("yara watch: no scanner")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{cfg: cfg, found: found, log: log, sc: sc, isMount: isMountPoint}, nil
}

// SetScanner switches to another scanner, when the rules change; a scan
// under way finishes with the old one. The caller closes the old one.
func (w *Watcher) SetScanner(sc *Scanner) {
	w.scMu.Lock()
	w.sc = sc
	w.scMu.Unlock()
}

func (w *Watcher) scanner() *Scanner {
	w.scMu.Lock()
	defer w.scMu.Unlock()
	return w.sc
}

// Stats returns the counters so far.
func (w *Watcher) Stats() WatchStats {
	return WatchStats{
		Files: w.files.Load(), Findings: w.findings.Load(), Overflows: w.overflows.Load(),
		Rescans: w.rescans.Load(), Mounts: w.nMounts.Load(), Errors: w.errs.Load(),
	}
}

// Run watches until ctx ends, then saves the cache and returns nil; it
// fails only when no watch can be set up at all.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("yara watch: %w", err)
	}
	defer fw.Close()
	w.fw, w.depth, w.pending, w.rescan, w.mounts = fw, map[string]int{}, map[string]time.Time{}, map[string]bool{}, map[string]bool{}
	for _, p := range w.cfg.Paths {
		w.addTree(p, 0)
	}
	if w.cfg.Removable {
		for _, m := range w.mountPoints() {
			w.mounts[m] = true // mounted before we started: the scheduled scan's business
		}
	}
	if len(w.depth) == 0 && !w.cfg.Removable {
		return errors.New("yara watch: none of the folders could be watched")
	}
	// From here on a new file is seen: said once, so that whoever drops a
	// test file knows when it will be caught.
	w.log.Info("watching folders for new files", "paths", w.cfg.Paths, "folders", len(w.depth), "removable", w.cfg.Removable)
	jobs := make(chan job, w.cfg.QueueSize)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.scanJobs(ctx, jobs)
	}()
	w.loop(ctx, jobs)
	close(jobs)
	<-done
	if err := w.scanner().cache.Save(); err != nil {
		w.log.Warn("YARA scan cache not saved", "err", err)
	}
	return nil
}

// loop takes events and timer ticks until ctx ends.
func (w *Watcher) loop(ctx context.Context, jobs chan<- job) {
	tick := time.NewTicker(max(w.cfg.Settle/4, 5*time.Millisecond))
	defer tick.Stop()
	var poll <-chan time.Time
	if w.cfg.Removable && len(w.cfg.MountRoots) > 0 {
		t := time.NewTicker(w.cfg.MountPoll)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			w.event(ev)
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			w.watchError(err)
		case now := <-tick.C:
			w.dispatch(now, jobs)
		case <-poll:
			w.pollMounts(jobs)
		}
	}
}

// addTree watches dir and its subfolders down to the configured depth.
func (w *Watcher) addTree(dir string, depth int) {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil // unreadable entries are the scan's to report
		}
		rel, _ := filepath.Rel(dir, p)
		level := depth
		if rel != "." {
			level += strings.Count(rel, string(filepath.Separator)) + 1
		}
		if level > w.cfg.Depth {
			return fs.SkipDir
		}
		if _, ok := w.depth[p]; ok {
			return nil
		}
		if err := w.fw.Add(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// Removed since it was listed: a temporary folder.
				w.log.Debug("folder gone before it was watched", "path", p)
				return fs.SkipDir
			}
			w.errs.Add(1)
			w.log.Warn("folder not watched", "path", p, "err", err)
			return fs.SkipDir
		}
		w.depth[p] = level
		return nil
	})
	if err != nil {
		w.errs.Add(1)
		w.log.Warn("folder not watched", "path", dir, "err", err)
	}
}

func (w *Watcher) event(ev fsnotify.Event) {
	switch {
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		// A rename reports the old name; the new one arrives as Create.
		delete(w.pending, ev.Name)
		if _, ok := w.depth[ev.Name]; ok {
			w.unwatch(ev.Name)
		}
	case ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write):
		fi, err := os.Lstat(ev.Name)
		if err != nil {
			return // gone already
		}
		if fi.IsDir() {
			// A folder moved or unpacked in brings files no event names.
			parent, ok := w.depth[filepath.Dir(ev.Name)]
			if ok && parent < w.cfg.Depth {
				w.addTree(ev.Name, parent+1)
			}
			w.rescan[ev.Name] = true
			return
		}
		if fi.Mode().IsRegular() {
			w.touch(ev.Name, time.Now())
		}
	}
}

// touch restarts path's settling time, or, when the queue is full,
// gives up on it and rescans its folder instead.
func (w *Watcher) touch(path string, now time.Time) {
	if _, ok := w.pending[path]; !ok && len(w.pending) >= w.cfg.QueueSize {
		w.overflows.Add(1)
		w.rescan[filepath.Dir(path)] = true
		return
	}
	w.pending[path] = now
}

// unwatch forgets a removed or renamed-away folder and those below it;
// the kernel has dropped their watches already.
func (w *Watcher) unwatch(dir string) {
	prefix := dir + string(filepath.Separator)
	for p := range w.depth {
		if p == dir || strings.HasPrefix(p, prefix) {
			delete(w.depth, p)
			_ = w.fw.Remove(p)
		}
	}
}

func (w *Watcher) watchError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		// The kernel dropped events: nobody knows which files changed.
		w.overflows.Add(1)
		for _, p := range w.cfg.Paths {
			w.rescan[p] = true
		}
		return
	}
	w.errs.Add(1)
	w.log.Warn("folder watch error", "err", err)
}

// dispatch hands settled files and pending rescans to the scanner; what
// does not fit in the queue now stays pending for the next tick.
func (w *Watcher) dispatch(now time.Time, jobs chan<- job) {
	for dir := range w.rescan {
		if !w.send(jobs, job{path: dir, tree: true}) {
			return
		}
		delete(w.rescan, dir)
		// The folder's scan covers the files waiting in it.
		for p := range w.pending {
			if strings.HasPrefix(p, dir+string(filepath.Separator)) {
				delete(w.pending, p)
			}
		}
	}
	for p, last := range w.pending {
		if now.Sub(last) < w.cfg.Settle {
			continue
		}
		if !w.send(jobs, job{path: p}) {
			return
		}
		delete(w.pending, p)
	}
}

func (w *Watcher) send(jobs chan<- job, j job) bool {
	select {
	case jobs <- j:
		return true
	default:
		return false
	}
}

// mountPoints lists the drives mounted in the mount roots or one level
// down (the per-user folders).
func (w *Watcher) mountPoints() []string {
	var out []string
	for _, root := range w.cfg.MountRoots {
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			p := filepath.Join(root, e.Name())
			if !e.IsDir() {
				continue
			}
			if w.isMount(p) {
				out = append(out, p)
				continue
			}
			sub, _ := os.ReadDir(p)
			for _, s := range sub {
				if q := filepath.Join(p, s.Name()); s.IsDir() && w.isMount(q) {
					out = append(out, q)
				}
			}
		}
	}
	return out
}

// pollMounts queues a whole scan of each drive mounted since the last
// poll, and forgets drives unmounted so that the next plug-in counts.
func (w *Watcher) pollMounts(jobs chan<- job) {
	now := map[string]bool{}
	for _, m := range w.mountPoints() {
		now[m] = true
		if !w.mounts[m] {
			if !w.send(jobs, job{path: m, tree: true, mount: true}) {
				continue // queue full: seen as new again at the next poll
			}
			w.log.Info("removable drive mounted; scanning it", "path", m)
		}
	}
	w.mounts = now
}

// scanJobs runs the scans, one at a time, saving the cache now and then.
func (w *Watcher) scanJobs(ctx context.Context, jobs <-chan job) {
	lastSave := time.Now()
	found := func(f Finding) {
		w.findings.Add(1)
		w.found(f)
	}
	for j := range jobs {
		if ctx.Err() != nil {
			continue // drain
		}
		sc := w.scanner()
		var st ScanStats
		var err error
		if j.tree {
			st, err = sc.ScanPaths(ctx, []string{j.path}, found)
			if j.mount {
				w.nMounts.Add(1)
			} else {
				w.rescans.Add(1)
			}
		} else {
			st, err = sc.ScanFile(ctx, j.path, found)
		}
		w.files.Add(st.Files)
		w.errs.Add(st.Errors)
		switch {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, fs.ErrNotExist):
			// Gone before it settled: a temporary file in a watched
			// temp folder, an everyday event and nothing to scan.
			w.log.Debug("watched file gone before its scan", "path", j.path)
		default:
			w.errs.Add(1)
			w.log.Warn("watched scan failed", "path", j.path, "err", err)
		}
		if time.Since(lastSave) >= w.cfg.SaveInterval {
			if err := sc.cache.Save(); err != nil {
				w.log.Warn("YARA scan cache not saved", "err", err)
			}
			lastSave = time.Now()
		}
	}
}
