package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Peek returns the oldest unacknowledged records, at most max of them and
// at most maxBytes of data, without removing them (a limit of zero or less
// means none). A first record larger than maxBytes is returned alone, so
// that one big record cannot stall the queue. The records are copies the
// caller owns.
func (s *Spool) Peek(max int, maxBytes int) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	// A frame that fails its check now was damaged after Open checked it:
	// that segment is repaired as Open would have, and the read starts
	// over. Each try repairs one segment, so the tries are bounded.
	for tries := 0; ; tries++ {
		out, err := s.peekOnce(max, maxBytes)
		var se *segmentError
		if !errors.As(err, &se) || tries > len(s.segs) {
			return out, err
		}
		if rerr := s.repairLive(se.seg); rerr != nil {
			return nil, errors.Join(err, fmt.Errorf("repair: %w", rerr))
		}
	}
}

func (s *Spool) peekOnce(max int, maxBytes int) ([]Record, error) {
	if s.unacked == 0 {
		return nil, nil
	}
	var out []Record
	var total int
	pos := s.cur
	for i := s.segIndex(pos.seg); i < len(s.segs); i++ {
		seg := s.segs[i]
		if seg != pos.seg {
			pos = position{seg, 0}
		}
		end, done, err := s.peekSegment(pos, &out, &total, max, maxBytes)
		if err != nil {
			return out, err
		}
		pos = end
		if done {
			break
		}
	}
	if len(out) > 0 {
		s.peek = peekMark{from: s.cur, end: s.normalize(pos), seq: out[len(out)-1].Seq, count: len(out)}
	}
	return out, nil
}

// segmentError is a bad frame found in a segment after Open.
type segmentError struct {
	seg *segment
	err error
}

func (e *segmentError) Error() string { return e.err.Error() }
func (e *segmentError) Unwrap() error { return e.err }

// peekSegment reads records from pos until a limit is reached (done) or
// the segment ends, and returns where it stopped.
func (s *Spool) peekSegment(pos position, out *[]Record, total *int, max, maxBytes int) (position, bool, error) {
	f, err := os.Open(pos.seg.path)
	if err != nil {
		return pos, true, fmt.Errorf("peek: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(pos.off, io.SeekStart); err != nil {
		return pos, true, fmt.Errorf("peek %s: %w", pos.seg.path, err)
	}
	fr := newFrameReader(f, pos.off, pos.seg.size)
	for {
		if max > 0 && len(*out) >= max {
			return position{pos.seg, fr.off}, true, nil
		}
		off := fr.off
		seq, data, err := fr.next(false)
		if err == io.EOF {
			return position{pos.seg, fr.off}, false, nil
		}
		if errors.Is(err, errBadFrame) {
			// The frame passed its check when the spool was opened or
			// written; failing now means the disk changed under us.
			return position{pos.seg, off}, true, &segmentError{pos.seg, fmt.Errorf("peek %s: %w", pos.seg.path, err)}
		}
		if err != nil {
			return position{pos.seg, off}, true, fmt.Errorf("peek %s: %w", pos.seg.path, err)
		}
		if maxBytes > 0 && len(*out) > 0 && *total+len(data) > maxBytes {
			return position{pos.seg, off}, true, nil
		}
		*out = append(*out, Record{Seq: seq, Data: data})
		*total += len(data)
	}
}

func (s *Spool) segIndex(seg *segment) int {
	for i, x := range s.segs {
		if x == seg {
			return i
		}
	}
	return len(s.segs)
}

// Ack marks every record with a sequence number up to upTo as done,
// durably, and deletes the segments that hold nothing else. Acknowledging
// what is already acknowledged does nothing; acknowledging beyond the last
// record appended is an error.
func (s *Spool) Ack(upTo uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if upTo <= s.acked {
		return nil
	}
	if upTo >= s.next {
		return fmt.Errorf("ack %d: beyond the last record appended (%d)", upTo, s.next-1)
	}
	n, pos, err := s.advance(upTo)
	if err != nil {
		return fmt.Errorf("ack %d: %w", upTo, err)
	}
	if err := writeCursor(s.cursorPath(), upTo); err != nil {
		return fmt.Errorf("ack %d: %w", upTo, err)
	}
	// The producer may have started a segment since pos was found; the
	// cursor must move into it before dropAcked deletes the one it is in.
	s.acked, s.cur, s.unacked = upTo, s.normalize(pos), s.unacked-n
	if err := s.dropAcked(); err != nil {
		return fmt.Errorf("ack %d: %w", upTo, err)
	}
	return nil
}

// advance finds where the read cursor goes past every record up to upTo
// and how many records it passes. It only reads; the caller commits.
func (s *Spool) advance(upTo uint64) (int, position, error) {
	if s.unacked == 0 {
		return 0, s.cur, nil
	}
	if s.peek.seq == upTo && s.peek.from == s.cur {
		return s.peek.count, s.peek.end, nil
	}
	return s.walk(s.cur, upTo)
}

// walk reads frame headers from pos up to the first frame above upTo and
// returns how many it passed and where that frame is (the end of the
// spool if there is none).
func (s *Spool) walk(pos position, upTo uint64) (int, position, error) {
	n := 0
	for i := s.segIndex(pos.seg); i < len(s.segs); i++ {
		seg := s.segs[i]
		off := int64(0)
		if seg == pos.seg {
			off = pos.off
		}
		k, at, found, err := walkSegment(seg, off, upTo)
		n += k
		if err != nil {
			return n, pos, err
		}
		if found {
			return n, position{seg, at}, nil
		}
	}
	if last := s.lastSegment(); last != nil {
		return n, position{last, last.size}, nil
	}
	return n, pos, nil
}

func walkSegment(seg *segment, off int64, upTo uint64) (n int, at int64, found bool, err error) {
	f, err := os.Open(seg.path)
	if err != nil {
		return 0, off, false, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, off, false, fmt.Errorf("%s: %w", seg.path, err)
	}
	fr := newFrameReader(f, off, seg.size)
	for {
		at := fr.off
		seq, _, err := fr.next(true)
		if errors.Is(err, io.EOF) {
			return n, at, false, nil
		}
		if err != nil {
			return n, at, false, fmt.Errorf("%s: %w", seg.path, err)
		}
		if seq > upTo {
			return n, at, true, nil
		}
		n++
	}
}

// normalize moves a position at the end of a segment to the start of the
// next one, so that the cursor never rests in a segment Ack may delete.
func (s *Spool) normalize(p position) position {
	if p.seg == nil || p.off < p.seg.size {
		return p
	}
	if i := s.segIndex(p.seg); i+1 < len(s.segs) {
		return position{s.segs[i+1], 0}
	}
	return p
}
