package action

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"lachan/internal/action"
	"lachan/internal/atomicfile"
)

// Sender delivers one result to the server; Permanent reports whether a
// failure will fail again however often it is retried.
type Sender interface {
	SendActionResult(ctx context.Context, r action.Result) error
}

// outbox keeps results on disk, one file each, until the server has them.
type outbox struct {
	dir  string
	log  *slog.Logger
	mu   sync.Mutex
	seq  int64
	wake chan struct{}
}

func openOutbox(dir string, log *slog.Logger) (*outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("action results %s: %w", dir, err)
	}
	return &outbox{dir: dir, log: log, wake: make(chan struct{}, 1)}, nil
}

// put writes a result durably. Names sort in the order results were made.
func (o *outbox) put(r action.Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result of %s: %w", r.ActionID, err)
	}
	o.mu.Lock()
	o.seq++
	sum := sha256.Sum256([]byte(r.ActionID + "\x00" + r.Status + "\x00" + r.Reason))
	name := fmt.Sprintf("%020d-%04d-%s.json", time.Now().UnixNano(), o.seq%10000, hex.EncodeToString(sum[:6]))
	o.mu.Unlock()
	if err := atomicfile.Write(filepath.Join(o.dir, name), b, 0o600); err != nil {
		return err
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// pending lists the results not yet acknowledged, oldest first.
func (o *outbox) pending() ([]string, error) {
	ents, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") && !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// Len is how many results wait.
func (o *outbox) Len() int {
	p, _ := o.pending()
	return len(p)
}

// permanent reports whether the server refused a result for good: resent,
// it would be refused again.
type permanent interface{ Permanent() bool }

// run sends every waiting result, oldest first, until ctx ends; a result
// the server refuses for good is set aside as .rejected beside the others.
func (o *outbox) run(ctx context.Context, s Sender, minWait, maxWait time.Duration) {
	wait := minWait
	for {
		err := o.flush(ctx, s)
		if err == nil {
			wait = minWait
		} else if ctx.Err() == nil {
			o.log.Warn("action results not delivered; will retry", "err", err, "in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-o.wake:
			t.Stop()
		case <-t.C:
		}
		if err != nil {
			wait = min(wait*2, maxWait)
		}
	}
}

func (o *outbox) flush(ctx context.Context, s Sender) error {
	names, err := o.pending()
	if err != nil {
		return err
	}
	for _, n := range names {
		path := filepath.Join(o.dir, n)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r action.Result
		if err := json.Unmarshal(b, &r); err != nil {
			o.log.Error("action result unreadable; set aside", "file", path, "err", err)
			_ = os.Rename(path, path+".rejected")
			continue
		}
		if err := s.SendActionResult(ctx, r); err != nil {
			var p permanent
			if errors.As(err, &p) && p.Permanent() {
				o.log.Error("server refused an action result; set aside", "action", r.ActionID, "file", path, "err", err)
				_ = os.Rename(path, path+".rejected")
				continue
			}
			return err
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		_ = atomicfile.SyncDir(o.dir)
	}
	return nil
}
