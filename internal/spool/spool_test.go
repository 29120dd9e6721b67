package spool

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testConfig(t *testing.T) Config {
	t.Helper()
	return Config{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 1 << 10, Sync: false}
}

func mustOpen(t *testing.T, cfg Config, log *slog.Logger) *Spool {
	t.Helper()
	s, err := Open(cfg, log)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func payload(i int) []byte {
	return []byte(fmt.Sprintf("record-%d-%s", i, strings.Repeat("x", i%97)))
}

// drain peeks and acknowledges everything, checking the records are
// payload(first), payload(first+1), ... in order.
func drain(t *testing.T, s *Spool, first, n, batch int) {
	t.Helper()
	got := 0
	var lastSeq uint64
	for {
		recs, err := s.Peek(batch, 0)
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if want := payload(first + got); !bytes.Equal(r.Data, want) {
				t.Fatalf("record %d (seq %d) = %q, want %q", got, r.Seq, r.Data, want)
			}
			if r.Seq <= lastSeq {
				t.Fatalf("seq %d after %d", r.Seq, lastSeq)
			}
			lastSeq = r.Seq
			got++
		}
		if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	if got != n {
		t.Fatalf("drained %d records, want %d", got, n)
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d after draining", s.Len())
	}
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name          string
		segment       int64
		n, per, batch int
		sync          bool
	}{
		{"one by one", 1 << 10, 50, 1, 1, false},
		{"batches across segments", 1 << 10, 300, 7, 10, false},
		{"big segment", 512 << 10, 200, 20, 64, true},
		{"unlimited peek", 2 << 10, 100, 3, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.SegmentBytes, cfg.Sync = c.segment, c.sync
			s := mustOpen(t, cfg, nil)
			for i := 0; i < c.n; i += c.per {
				var recs [][]byte
				for j := i; j < min(i+c.per, c.n); j++ {
					recs = append(recs, payload(j))
				}
				if err := s.Append(recs...); err != nil {
					t.Fatalf("Append: %v", err)
				}
			}
			if s.Len() != c.n || s.LastSeq() != uint64(c.n) {
				t.Fatalf("Len %d LastSeq %d, want %d", s.Len(), s.LastSeq(), c.n)
			}
			drain(t, s, 0, c.n, c.batch)
			if s.Bytes() != 0 {
				t.Fatalf("Bytes = %d after everything was acknowledged", s.Bytes())
			}
			segs, _ := listSegments(cfg.Dir)
			if len(segs) != 0 {
				t.Fatalf("segments left: %v", segs)
			}
		})
	}
}

func TestPeekLimits(t *testing.T) {
	s := mustOpen(t, testConfig(t), nil)
	big := bytes.Repeat([]byte("b"), 600)
	if err := s.Append(big, []byte("a"), []byte("bb"), []byte("ccc")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		max, maxBytes int
		want          int
	}{
		{0, 0, 4},
		{2, 0, 2},
		{0, 100, 1}, // the big first record comes alone
		{0, 602, 2},
		{0, 603, 3},
		{0, 606, 4},
	}
	for _, c := range cases {
		recs, err := s.Peek(c.max, c.maxBytes)
		if err != nil || len(recs) != c.want {
			t.Errorf("Peek(%d, %d) = %d records, %v; want %d", c.max, c.maxBytes, len(recs), err, c.want)
		}
	}
	if err := s.Ack(2); err != nil {
		t.Fatal(err)
	}
	recs, _ := s.Peek(0, 0)
	if len(recs) != 2 || recs[0].Seq != 3 || string(recs[0].Data) != "bb" {
		t.Fatalf("after Ack(2): %+v", recs)
	}
	if err := s.Ack(9); err == nil {
		t.Fatal("Ack beyond the last record succeeded")
	}
	if err := s.Ack(1); err != nil {
		t.Fatalf("Ack of an acknowledged record: %v", err)
	}
}

func TestRestart(t *testing.T) {
	cfg := testConfig(t)
	s := mustOpen(t, cfg, nil)
	for i := 0; i < 40; i++ {
		if err := s.Append(payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	recs, _ := s.Peek(15, 0)
	if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	before := s.Bytes()
	s.Close()
	if err := s.Append(payload(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}

	s = mustOpen(t, cfg, nil)
	if s.Len() != 25 || s.LastSeq() != 40 || s.Bytes() != before {
		t.Fatalf("after restart Len %d LastSeq %d Bytes %d; want 25, 40, %d", s.Len(), s.LastSeq(), s.Bytes(), before)
	}
	if err := s.Append(payload(40)); err != nil {
		t.Fatal(err)
	}
	if s.LastSeq() != 41 {
		t.Fatalf("new record got seq %d, want 41", s.LastSeq())
	}
	drain(t, s, 15, 26, 8)
	s.Close()

	// Everything acknowledged and every segment gone: numbering still goes on.
	s = mustOpen(t, cfg, nil)
	if s.Len() != 0 || s.LastSeq() != 41 {
		t.Fatalf("empty spool after restart: Len %d LastSeq %d", s.Len(), s.LastSeq())
	}
	if err := s.Append(payload(1)); err != nil || s.LastSeq() != 42 {
		t.Fatalf("Append: %v, seq %d", err, s.LastSeq())
	}
}

func TestFull(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBytes, cfg.SegmentBytes = 4<<10, 1<<10
	s := mustOpen(t, cfg, nil)
	rec := bytes.Repeat([]byte("z"), 100) // 116 bytes framed
	n := 0
	var err error
	for ; n < 100; n++ {
		if err = s.Append(rec); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("after %d records: %v, want ErrFull", n, err)
	}
	if n != int(cfg.MaxBytes/116) || s.Bytes() > cfg.MaxBytes {
		t.Fatalf("stored %d records, %d bytes; want %d records within %d", n, s.Bytes(), cfg.MaxBytes/116, cfg.MaxBytes)
	}
	if err := s.Append(rec, rec); !errors.Is(err, ErrFull) || s.Len() != n {
		t.Fatalf("a batch that does not fit: %v, Len %d", err, s.Len())
	}
	if err := s.Append(make([]byte, cfg.MaxBytes)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized record: %v", err)
	}
	recs, _ := s.Peek(20, 0)
	if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(rec); err != nil {
		t.Fatalf("Append after acknowledging: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Dir = "/tmp/x"
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"default with dir", func(*Config) {}, ""},
		{"no dir", func(c *Config) { c.Dir = "" }, "dir must be set"},
		{"tiny segment", func(c *Config) { c.SegmentBytes = 10 }, "spool.segment_bytes (10) must be at least 1024"},
		{"smallest segment", func(c *Config) { c.SegmentBytes = 1024 }, ""},
		{"max below segment", func(c *Config) { c.MaxBytes = 1 << 20 }, "spool.max_bytes (1048576) must be at least 2 × spool.segment_bytes (8388608), that is 16777216"},
		{"max one byte short of two segments", func(c *Config) { c.MaxBytes = 2*c.SegmentBytes - 1 }, "spool.max_bytes (16777215) must be at least 2 × spool.segment_bytes (8388608)"},
		{"max exactly two segments", func(c *Config) { c.MaxBytes = 2 * c.SegmentBytes }, ""},
		{"max equal to segment", func(c *Config) { c.MaxBytes = c.SegmentBytes }, "spool.max_bytes (8388608) must be at least 2 × spool.segment_bytes (8388608)"},
	}
	for _, c := range cases {
		cfg := ok
		c.mod(&cfg)
		err := cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Validate() = %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := Open(Config{}, nil); err == nil {
		t.Error("Open with an empty config succeeded")
	}
}

func TestConcurrentProducerConsumer(t *testing.T) {
	cfg := testConfig(t)
	s := mustOpen(t, cfg, nil)
	const n = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 0; i < n; i++ {
			if err := s.Append(payload(i)); err != nil {
				t.Errorf("Append %d: %v", i, err)
				return
			}
		}
	}()
	got, idle := 0, 0
	for got < n && idle < 1000 {
		recs, err := s.Peek(50, 4<<10)
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		for _, r := range recs {
			if want := payload(got); !bytes.Equal(r.Data, want) {
				t.Fatalf("record %d = %q, want %q", got, r.Data, want)
			}
			got++
		}
		if len(recs) > 0 {
			if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
		select {
		case <-done:
			if len(recs) == 0 {
				idle++ // the producer has finished: Peek must now return everything
			}
		default:
		}
		_, _ = s.Len(), s.Bytes()
	}
	wg.Wait()
	if got != n || s.Len() != 0 {
		t.Fatalf("consumed %d of %d; Len %d at the end", got, n, s.Len())
	}
}

func TestCorruptCursor(t *testing.T) {
	cfg := testConfig(t)
	s := mustOpen(t, cfg, nil)
	s.Append([]byte("a"), []byte("b"))
	s.Ack(1)
	s.Close()
	if err := os.WriteFile(filepath.Join(cfg.Dir, "ack"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(cfg, nil); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Open with a corrupt cursor: %v", err)
	}
}
