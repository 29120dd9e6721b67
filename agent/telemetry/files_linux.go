package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// changeQuiet is how long repeated writes to one file make one "change".
const changeQuiet = time.Second

func (c *Collector) runFiles(ctx context.Context, ready func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	defer w.Close()
	fw := &fileWatch{w: w, max: c.cfg.MaxWatches, c: c}
	for _, p := range c.cfg.Paths {
		if err := fw.addTree(p); err != nil && c.log != nil {
			c.log.Warn("watched path not watched", "path", p, "err", err)
		}
	}
	if fw.n == 0 {
		return errors.New("none of telemetry.linux.paths could be watched")
	}
	ready()
	lastChange := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.Errors:
			if c.log != nil {
				c.log.Warn("watched paths: events lost", "err", err)
			}
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			now := time.Now()
			var action string
			switch {
			case ev.Has(fsnotify.Create):
				action = "creation"
				if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
					_ = fw.addTree(ev.Name)
				}
			case ev.Has(fsnotify.Write):
				if now.Sub(lastChange[ev.Name]) < changeQuiet {
					continue
				}
				if len(lastChange) > 4096 {
					clear(lastChange)
				}
				lastChange[ev.Name] = now
				action = "change"
			case ev.Has(fsnotify.Rename):
				action = "rename"
			case ev.Has(fsnotify.Remove):
				action = "deletion"
			default:
				continue
			}
			if !c.limits[KindFile].allow(now) {
				continue
			}
			c.send(KindFile, fileInfo{At: now, Action: action, Path: ev.Name}.event(c.agentID, c.bootID))
		}
	}
}

// fileWatch adds folders to the watcher up to max.
type fileWatch struct {
	w   *fsnotify.Watcher
	c   *Collector
	max int
	n   int
}

func (fw *fileWatch) addTree(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if fw.n >= fw.max {
			return fmt.Errorf("more than %d folders under the watched paths; the rest are not watched", fw.max)
		}
		if err := fw.w.Add(p); err != nil {
			return fmt.Errorf("watch %s: %w", p, err)
		}
		fw.n++
		return nil
	})
}
