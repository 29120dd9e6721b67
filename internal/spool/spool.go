package spool

import (
	"errors"
	"fmt"
	"lachan/internal/atomicfile"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// Errors callers act on.
var (
	// ErrFull means the records would take the spool past Config.MaxBytes;
	// nothing was stored. It clears as records are acknowledged.
	ErrFull = errors.New("spool full")
	// ErrTooLarge means one record can never fit, however empty the spool.
	ErrTooLarge = errors.New("record too large for the spool")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("spool closed")
)

// Record is one stored record. Data belongs to the caller.
type Record struct {
	Seq  uint64
	Data []byte
}

// segment is one segment file and what Open or Append learned about it.
type segment struct {
	path        string
	size        int64
	first, last uint64 // sequence numbers of its first and last frame
	count       int
}

// position is the offset of a frame in a segment.
type position struct {
	seg *segment
	off int64
}

// Spool is an open spool. It is safe for one goroutine appending and
// another peeking and acknowledging at the same time (and in fact for any
// number: one mutex serialises them).
type Spool struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	closed  bool
	segs    []*segment // oldest first; the last one takes appends
	w       *os.File   // open on the last segment, nil until the first append
	next    uint64     // sequence number the next record gets
	acked   uint64
	unacked int
	disk    int64    // bytes of all segment files
	cur     position // the first unacknowledged frame, when unacked > 0
	peek    peekMark
	stats   Stats
	lost    []seqRange // records dropped as corrupt since Open
}

// peekMark remembers what the last Peek returned, so that the usual Ack of
// exactly that needs no reading.
type peekMark struct {
	from, end position
	seq       uint64
	count     int
}

// Open opens the spool in cfg.Dir, creating it if needed, and recovers
// from a crash: torn or corrupt frames are cut out (logged and counted in
// Stats), reading going on at the next good frame; fully acknowledged
// segments are removed.
func Open(cfg Config, log *slog.Logger) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", cfg.Dir, err)
	}
	s := &Spool{cfg: cfg, log: log}
	acked, err := readCursor(s.cursorPath())
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", cfg.Dir, err)
	}
	s.acked = acked
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", cfg.Dir, err)
	}
	if err := s.dropAcked(); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", cfg.Dir, err)
	}
	return s, nil
}

// Len returns the number of records not yet acknowledged.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unacked
}

// Bytes returns the size of the segment files on disk, the figure
// MaxBytes bounds; it includes acknowledged records that share a segment
// with unacknowledged ones.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disk
}

// LastSeq returns the sequence number of the last record appended (0 when
// none ever was). With one producer it tells that producer the numbers
// its last Append assigned.
func (s *Spool) LastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next - 1
}

// Close closes the spool; records stay on disk for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.w == nil {
		return nil
	}
	err := s.w.Close()
	s.w = nil
	if err != nil {
		return fmt.Errorf("close spool %s: %w", s.cfg.Dir, err)
	}
	return nil
}

func (s *Spool) cursorPath() string { return filepath.Join(s.cfg.Dir, "ack") }

func (s *Spool) segmentPath(first uint64) string {
	return filepath.Join(s.cfg.Dir, fmt.Sprintf("%020d.seg", first))
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }
