package yara

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func testCache(t *testing.T, dir string, max int, log *slog.Logger) *Cache {
	t.Helper()
	cfg := DefaultConfig()
	cfg.StateDir, cfg.CacheEntries = dir, max
	c, err := OpenCache(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	c.racy = 0
	return c
}

func TestCacheRoundTrip(t *testing.T) {
	state, files := t.TempDir(), t.TempDir()
	p := filepath.Join(files, "a.bin")
	if err := os.WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	c := testCache(t, state, 100, nil)
	if c.Unchanged("k1", p, fi) {
		t.Fatal("an empty cache knew a file")
	}
	c.Record("k1", p, fi, time.Now())
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = testCache(t, state, 100, nil)
	if c.Len() != 1 || !c.Unchanged("k1", p, fi) {
		t.Fatalf("reopened cache: %d entries, file not known", c.Len())
	}
	os.WriteFile(p, []byte("two"), 0o600) // same size: only times and ctime tell
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	changed, _ := os.Stat(p)
	cases := []struct {
		name string
		key  string
		fi   os.FileInfo
		want bool
	}{
		{"same file, same rules", "k1", fi, true},
		{"rewritten in place with its mtime put back", "k1", changed, false},
		{"other rules", "k2", fi, false},
		{"first rules again: forgotten", "k1", fi, false},
	}
	for _, tc := range cases {
		if got := c.Unchanged(tc.key, p, tc.fi); got != tc.want {
			t.Errorf("%s: Unchanged = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCacheRacyAndEviction(t *testing.T) {
	dir := t.TempDir()
	c := testCache(t, t.TempDir(), 10, nil)
	c.racy = time.Hour
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("x"), 0o600)
	fi, _ := os.Stat(p)
	c.Record("k", p, fi, time.Now())
	if c.Len() != 0 {
		t.Fatal("a file changed a moment ago was trusted")
	}
	c.racy = 0
	var infos []os.FileInfo
	for i := range 25 {
		q := filepath.Join(dir, string(rune('a'+i)))
		os.WriteFile(q, []byte("x"), 0o600)
		fi, _ := os.Stat(q)
		infos = append(infos, fi)
		c.Record("k", q, fi, time.Now())
	}
	if n := c.Len(); n > 10 || n < 9 {
		t.Fatalf("Len = %d, want 9 or 10", n)
	}
	if !c.Unchanged("k", filepath.Join(dir, "y"), infos[24]) || c.Unchanged("k", filepath.Join(dir, "a"), infos[0]) {
		t.Error("eviction kept the oldest instead of the newest")
	}
}

func TestCacheCorrupt(t *testing.T) {
	valid := encodeCache("key", 7, map[pathKey]cacheEntry{hashPath("/x"): {st: fileState{Size: 3, ModNs: 9}, seq: 7}})
	flipped := bytes.Clone(valid)
	flipped[len(flipped)/2] ^= 0x40
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("not a cache at all, but long enough")},
		{"truncated", valid[:len(valid)-3]},
		{"bit flip", flipped},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, CacheFile), tc.data, 0o600)
		var logs bytes.Buffer
		c := testCache(t, dir, 100, slog.New(slog.NewTextHandler(&logs, nil)))
		if c.Len() != 0 || !bytes.Contains(logs.Bytes(), []byte("corrupt")) {
			t.Errorf("%s: %d entries, log %q", tc.name, c.Len(), logs.String())
		}
		if err := c.Save(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, CacheFile)); bytes.Equal(b, tc.data) {
			t.Errorf("%s: the corrupt file was not replaced", tc.name)
		}
	}
	if _, _, e, err := decodeCache(valid); err != nil || len(e) != 1 {
		t.Fatalf("valid cache: %v, %d entries", err, len(e))
	}
	cfg := DefaultConfig()
	if _, err := OpenCache(cfg, nil); err == nil {
		t.Error("a cache without a state directory opened")
	}
}

// FuzzDecodeCache: the cache file is read back from disk, where anything
// may have happened to it; decoding must fail cleanly, never panic, and a
// decoded cache must encode to the same bytes' meaning.
func FuzzDecodeCache(f *testing.F) {
	f.Add(encodeCache("k", 1, map[pathKey]cacheEntry{hashPath("/a"): {st: fileState{Size: 1, ModNs: -5, Ino: 3}, seq: 1}}))
	f.Add(encodeCache("", 0, nil))
	f.Add([]byte("LCYSC\x00\x01\n\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		key, seq, entries, err := decodeCache(b)
		if err != nil {
			return
		}
		k2, s2, e2, err := decodeCache(encodeCache(key, seq, entries))
		if err != nil || k2 != key || s2 != seq || len(e2) != len(entries) {
			t.Fatalf("re-encoded cache differs: %v", err)
		}
	})
}

func TestWatchConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*WatchConfig)
		ok   bool
	}{
		{"paths", func(c *WatchConfig) { c.Paths = []string{"/tmp"} }, true},
		{"drives only", func(c *WatchConfig) { c.MountRoots = []string{"/media"} }, true},
		{"nothing", func(c *WatchConfig) { c.Removable, c.MountRoots = false, nil }, false},
		{"deep", func(c *WatchConfig) { c.Paths, c.Depth = []string{"/tmp"}, 17 }, false},
		{"no settle", func(c *WatchConfig) { c.Paths, c.Settle = []string{"/tmp"}, 0 }, false},
		{"no queue", func(c *WatchConfig) { c.Paths, c.QueueSize = []string{"/tmp"}, 0 }, false},
		{"empty path", func(c *WatchConfig) { c.Paths = []string{""} }, false},
	}
	for _, tc := range cases {
		cfg := DefaultWatchConfig()
		cfg.MountRoots = nil
		tc.mod(&cfg)
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v", tc.name, err)
		}
	}
}

func TestThrottle(t *testing.T) {
	for _, tc := range []struct{ pct, workers int }{{0, 1}, {100, 1}, {200, 2}} {
		if newThrottle(tc.pct, tc.workers) != nil {
			t.Errorf("%d%% over %d workers: throttled", tc.pct, tc.workers)
		}
	}
	th := newThrottle(50, 2) // each worker at 25%: 3 units idle per unit busy
	start := time.Now()
	th.after(t.Context(), 5*time.Millisecond) // 15ms owed: below minSleep, carried
	if time.Since(start) > 10*time.Millisecond || th.owed != 15*time.Millisecond {
		t.Fatalf("owed %v after a short file", th.owed)
	}
	th.after(t.Context(), 5*time.Millisecond)
	if d := time.Since(start); d < 28*time.Millisecond {
		t.Errorf("slept %v, want about 30ms", d)
	}
}

// TestCacheForget: a forgotten file is scanned again, also after a save.
func TestCacheForget(t *testing.T) {
	state, files := t.TempDir(), t.TempDir()
	p := filepath.Join(files, "a.bin")
	if err := os.WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	c := testCache(t, state, 100, nil)
	c.Record("k", p, fi, time.Now())
	c.Forget(p)
	c.Forget(filepath.Join(files, "never-seen"))
	if c.Unchanged("k", p, fi) {
		t.Fatal("a forgotten file is still known")
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if c = testCache(t, state, 100, nil); c.Len() != 0 {
		t.Fatalf("reopened cache holds %d entries, want 0", c.Len())
	}
	var nilCache *Cache
	nilCache.Forget(p) // a nil cache remembers nothing and must not panic
}

// A file with several findings is done only when all of them are in the
// spool and acknowledged: an acknowledgement of the first, before the
// second is spooled, leaves it pending, and a lost second record makes it
// scanned again.
func TestCachePendingWaitsForEveryFinding(t *testing.T) {
	p := filepath.Join(t.TempDir(), "two-findings.bin")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	c := testCache(t, t.TempDir(), 100, nil)
	c.RecordPending("k", p, fi, time.Now(), 2)
	c.Spooled(p, 5)
	c.Acked(5, nil)
	if c.Unchanged("k", p, fi) {
		t.Fatal("done after the first of two findings was acknowledged")
	}
	c.Spooled(p, 6)
	lost := func(from, to uint64) bool { return from <= 6 && 6 <= to }
	c.Acked(6, lost)
	if c.Unchanged("k", p, fi) || c.Pending() != 0 {
		t.Fatal("a file whose second finding was lost is not scanned again")
	}
	c.RecordPending("k", p, fi, time.Now(), 2)
	c.Spooled(p, 7)
	c.Spooled(p, 8)
	c.Acked(8, nil)
	if !c.Unchanged("k", p, fi) {
		t.Fatal("not done once both findings were acknowledged")
	}
}
