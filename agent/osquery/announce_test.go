package osquery

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
)

// lockedBuffer is a log sink the extension's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, ln := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(ln), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// On a PC without osquery the extension retries for ever; the log says so
// once at warning level, the retries only at debug level.
func TestOsqueryAbsenceSaidOnce(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := testExtensionConfig(filepath.Join(t.TempDir(), "no-osqueryd.em"))
	cfg.MinBackoff, cfg.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	cfg.Timeout = 100 * time.Millisecond
	x, err := NewExtension(cfg, func(event.Event) error { return nil }, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- x.Run(ctx) }()
	waitFor(t, "ten retries", func() bool { return countMsg(buf.lines(), "DEBUG", "osquery still unavailable") >= 10 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := buf.lines()
	if n := countMsg(lines, "WARN", "osquery unavailable"); n != 1 {
		t.Fatalf("%d warnings about osquery, want 1:\n%s", n, buf.b.String())
	}
	for _, l := range lines {
		if l["level"] == "WARN" || l["level"] == "ERROR" {
			if msg, _ := l["msg"].(string); !strings.Contains(msg, "works without it") {
				t.Errorf("unexpected %s: %v", l["level"], msg)
			}
		}
	}
}

func countMsg(lines []map[string]any, level, substr string) int {
	n := 0
	for _, l := range lines {
		if msg, _ := l["msg"].(string); l["level"] == level && strings.Contains(msg, substr) {
			n++
		}
	}
	return n
}
