package spool

import (
	"errors"
	"fmt"
	"os"
)

// Append stores recs, in order, as one batch: either all are stored or, on
// error, none is. With Config.Sync the records are on stable storage when
// Append returns. A batch that would take the spool past MaxBytes is
// refused with an error wrapping ErrFull; the caller decides whether to
// wait, drop or shout.
func (s *Spool) Append(recs ...[]byte) error {
	_, err := s.AppendSeq(recs...)
	return err
}

// AppendSeq is Append that also returns the sequence number the first
// record got (the others follow it), so that a producer sharing the spool
// knows which acknowledgement covers its records.
func (s *Spool) AppendSeq(recs ...[]byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	first := s.next
	return first, s.append(recs)
}

func (s *Spool) append(recs [][]byte) error {
	var need int64
	for i, r := range recs {
		if len(r) > maxRecord || frameSize(len(r)) > s.cfg.MaxBytes {
			return fmt.Errorf("append record %d of %d bytes: %w (max %d)", i, len(r), ErrTooLarge, min(maxRecord, s.cfg.MaxBytes-headerSize))
		}
		need += frameSize(len(r))
	}
	if s.disk+need > s.cfg.MaxBytes {
		return fmt.Errorf("append %d records (%d bytes): %w: %d of %d bytes used", len(recs), need, ErrFull, s.disk, s.cfg.MaxBytes)
	}
	if len(recs) == 0 {
		return nil
	}
	b := batch{s: s}
	err := b.write(recs)
	if err == nil && s.cfg.Sync {
		err = b.sync()
	}
	if err != nil {
		return errors.Join(fmt.Errorf("append to spool %s: %w", s.cfg.Dir, err), b.rollback())
	}
	if s.unacked == 0 {
		s.cur = b.start
	}
	s.unacked += len(recs)
	s.next += uint64(len(recs))
	return nil
}

// batch is one Append in progress, remembering enough to undo it.
type batch struct {
	s       *Spool
	start   position   // where the first record went
	touched []*segment // segments written, in order
	saved   []segment  // their state before, zero for ones created
	dirty   bool       // a segment was created: the directory needs a sync
}

func (b *batch) write(recs [][]byte) error {
	s := b.s
	seq := s.next
	var buf []byte
	for i, r := range recs {
		fs := frameSize(len(r))
		last := s.lastSegment()
		if s.w == nil || last.size+int64(len(buf)) > 0 && last.size+int64(len(buf))+fs > s.cfg.SegmentBytes {
			if err := b.flush(buf); err != nil {
				return err
			}
			buf = buf[:0]
			if err := b.roll(seq); err != nil {
				return err
			}
			last = s.lastSegment()
		}
		b.touch(last)
		if i == 0 {
			b.start = position{last, last.size + int64(len(buf))}
		}
		buf = appendFrame(buf, seq, r)
		if last.count == 0 {
			last.first = seq
		}
		last.last, last.count = seq, last.count+1
		seq++
	}
	return b.flush(buf)
}

func (b *batch) touch(seg *segment) {
	if n := len(b.touched); n > 0 && b.touched[n-1] == seg {
		return
	}
	b.touched, b.saved = append(b.touched, seg), append(b.saved, *seg)
}

// roll makes the next segment (or, after a restart, the last one) the one
// appends go to.
func (b *batch) roll(first uint64) error {
	s := b.s
	if last := s.lastSegment(); s.w == nil && last != nil && last.size < s.cfg.SegmentBytes {
		f, err := os.OpenFile(last.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("reopen segment: %w", err)
		}
		s.w = f
		return nil
	}
	if s.w != nil {
		if err := b.syncIf(); err != nil {
			return err
		}
		if err := s.w.Close(); err != nil {
			return fmt.Errorf("close segment: %w", err)
		}
		s.w = nil
	}
	path := s.segmentPath(first)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	seg := &segment{path: path}
	b.touched, b.saved = append(b.touched, seg), append(b.saved, segment{})
	s.w, b.dirty = f, true
	s.segs = append(s.segs, seg)
	return nil
}

func (b *batch) flush(buf []byte) error {
	s := b.s
	if len(buf) == 0 {
		return nil
	}
	last := s.lastSegment()
	if _, err := s.w.WriteAt(buf, last.size); err != nil {
		return fmt.Errorf("write segment %s: %w", last.path, err)
	}
	last.size += int64(len(buf))
	s.disk += int64(len(buf))
	return nil
}

func (b *batch) syncIf() error {
	if !b.s.cfg.Sync {
		return nil
	}
	if err := b.s.w.Sync(); err != nil {
		return fmt.Errorf("sync segment: %w", err)
	}
	return nil
}

func (b *batch) sync() error {
	if err := b.syncIf(); err != nil {
		return err
	}
	if b.dirty {
		if err := syncDir(b.s.cfg.Dir); err != nil {
			return fmt.Errorf("sync spool directory: %w", err)
		}
	}
	return nil
}

// rollback puts every touched segment back as it was before the batch, so
// that a failed Append leaves nothing a later Open would find.
func (b *batch) rollback() error {
	s := b.s
	var errs []error
	for i := len(b.touched) - 1; i >= 0; i-- {
		seg, old := b.touched[i], b.saved[i]
		s.disk -= seg.size - old.size
		if old.path == "" { // created by this batch
			if s.w != nil && s.lastSegment() == seg {
				s.w.Close()
				s.w = nil
			}
			if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("undo partial append: %w", err))
			}
			s.segs = s.segs[:len(s.segs)-1]
			continue
		}
		*seg = old
		if err := os.Truncate(seg.path, seg.size); err != nil {
			errs = append(errs, fmt.Errorf("undo partial append: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (s *Spool) lastSegment() *segment {
	if len(s.segs) == 0 {
		return nil
	}
	return s.segs[len(s.segs)-1]
}
