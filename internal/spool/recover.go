package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"lachan/internal/atomicfile"
)

// The cursor file is 8 bytes of sequence number and 4 of CRC-32C: it is
// replaced atomically, so a bad checksum means the disk itself failed.
func readCursor(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	if len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0, fmt.Errorf("cursor %s is corrupt (%d bytes); remove it to deliver every stored record again", path, len(b))
	}
	return binary.LittleEndian.Uint64(b[:8]), nil
}

func writeCursor(path string, acked uint64) error {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], acked)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	return atomicfile.Write(path, b[:], 0o600)
}

// listSegments returns the segment files in the order they were made.
func listSegments(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type named struct {
		first uint64
		path  string
	}
	var segs []named
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".seg.repair") {
			// A repair cut short by a crash; the segment it was for is intact.
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("remove unfinished repair: %w", err)
			}
			continue
		}
		base, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(base, 10, 64)
		if err != nil {
			continue // not ours
		}
		segs = append(segs, named{n, filepath.Join(dir, e.Name())})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].first < segs[j].first })
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s.path
	}
	return out, nil
}

// recover reads every segment, cuts the bad stretches out of each and
// sets the counters and the read cursor.
func (s *Spool) recover() error {
	paths, err := listSegments(s.cfg.Dir)
	if err != nil {
		return err
	}
	st, err := readStats(s.statsPath())
	if err != nil {
		return err
	}
	s.stats = st
	var last uint64 // highest valid sequence number seen
	var dropped int64
	for i, p := range paths {
		hi := uint64(math.MaxUint64)
		if i+1 < len(paths) && segmentName(paths[i+1]) > 0 {
			hi = segmentName(paths[i+1]) - 1
		}
		seg, sc, err := s.scanSegment(p, last, hi)
		if err != nil {
			return err
		}
		if err := s.cutHoles(p, sc); err != nil {
			return err
		}
		for _, h := range sc.holes {
			dropped += h.end - h.off
		}
		if seg.count == 0 {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove empty segment: %w", err)
			}
			continue
		}
		last = seg.last
		s.segs = append(s.segs, seg)
		s.disk += seg.size
		if sc.unacked > 0 && s.unacked == 0 {
			s.cur = position{seg, sc.firstUnacked}
		}
		s.unacked += sc.unacked
	}
	// Frames cut off may have been handed out (Peek) before the crash;
	// skipping as many numbers as they could have held keeps sequence
	// numbers from ever meaning two different records.
	s.next = max(last, s.acked) + 1 + uint64((dropped+headerSize-1)/headerSize)
	s.clampLost()
	return nil
}

// clampLost bounds the ranges of records lost at the end of the newest
// segment, whose last number is unknown, by the numbers ever handed out.
func (s *Spool) clampLost() {
	for i := range s.lost {
		s.lost[i].to = min(s.lost[i].to, s.next-1)
	}
}

// cutHoles counts what a segment lost, durably first, then removes the
// bad stretches from its file. A crash in between counts them again at
// the next Open, which over-reports rather than hides a loss.
func (s *Spool) cutHoles(path string, sc scanResult) error {
	if len(sc.holes) == 0 {
		return nil
	}
	st := s.stats
	for _, h := range sc.holes {
		st.Dropped += h.records
		st.DroppedBytes += h.end - h.off
		s.addLost(h.seqs)
	}
	if err := writeStats(s.statsPath(), st); err != nil {
		return err
	}
	s.stats = st
	return repair(path, sc.size, sc.holes)
}

// scanResult is what scanSegment learns beyond the segment itself.
type scanResult struct {
	firstUnacked int64 // offset of the first frame above the cursor, once the holes are cut
	unacked      int   // frames above the cursor
	size         int64 // of the file as found
	holes        []hole
}

// scanSegment verifies one segment whose frames must all follow prev,
// and a later segment's, if any, hi. Where a frame is torn or corrupt it
// goes on at the next good frame; the segment it returns describes the
// file once its holes are cut, which is left to the caller.
func (s *Spool) scanSegment(path string, prev, hi uint64) (*segment, scanResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, scanResult{}, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, scanResult{}, fmt.Errorf("stat segment: %w", err)
	}
	seg := &segment{path: path}
	sc := scanResult{size: fi.Size()}
	var cut int64 // bytes of holes so far
	fr := newFrameReader(f, 0, fi.Size())
	for {
		off := fr.off
		seq, _, err := fr.next(false)
		if err == io.EOF {
			break
		}
		if err == nil && seq <= prev {
			err = fmt.Errorf("%w at offset %d: sequence number %d does not follow %d", errBadFrame, off, seq, prev)
		}
		if errors.Is(err, errBadFrame) {
			h, at, rerr := s.skipBad(f, path, off, fi.Size(), prev, hi, err)
			if rerr != nil {
				return nil, scanResult{}, rerr
			}
			sc.holes = append(sc.holes, h)
			cut += h.end - h.off
			if at < 0 {
				break
			}
			if _, err := f.Seek(at, io.SeekStart); err != nil {
				return nil, scanResult{}, fmt.Errorf("segment %s: %w", path, err)
			}
			fr = newFrameReader(f, at, fi.Size())
			continue
		}
		if err != nil {
			return nil, scanResult{}, fmt.Errorf("segment %s: %w", path, err)
		}
		if seg.count == 0 {
			seg.first = seq
		}
		seg.last, seg.count, prev = seq, seg.count+1, seq
		if seq > s.acked {
			if sc.unacked == 0 {
				sc.firstUnacked = off - cut
			}
			sc.unacked++
		}
	}
	seg.size = fi.Size() - cut
	return seg, sc, nil
}

// skipBad finds where the bad frame at off ends: at the next good frame,
// whose offset it returns, or at the end of the file (-1). It logs the
// hole and counts the records in it.
func (s *Spool) skipBad(f *os.File, path string, off, size int64, prev, hi uint64, cause error) (hole, int64, error) {
	lo := max(prev+1, segmentName(path))
	at, seq, ok, err := resync(f, off+1, size, lo, hi)
	if err != nil {
		return hole{}, 0, fmt.Errorf("segment %s: %w", path, err)
	}
	floor := max(prev, s.acked)
	h := hole{off: off, end: size}
	switch {
	case ok:
		h.end = at
		if seq > floor+1 {
			h.records, h.seqs = int64(seq-floor-1), seqRange{floor + 1, seq - 1}
		}
	case hi != math.MaxUint64:
		if hi > floor {
			h.records, h.seqs = int64(hi-floor), seqRange{floor + 1, hi}
		}
	default:
		h.records = tailRecords(f, off, size, floor)
		if h.records > 0 {
			h.seqs = seqRange{floor + 1, math.MaxUint64}
		}
	}
	s.log.Warn("spool dropped a bad stretch of a segment", "segment", path, "offset", off,
		"dropped_bytes", h.end-h.off, "dropped_records", h.records, "resumed", ok, "err", cause)
	if !ok {
		at = -1
	}
	return h, at, nil
}

// dropAcked removes segments whose every record is acknowledged.
func (s *Spool) dropAcked() error {
	for len(s.segs) > 0 && s.segs[0].last <= s.acked {
		seg := s.segs[0]
		if len(s.segs) == 1 && s.w != nil {
			if err := s.w.Close(); err != nil {
				return fmt.Errorf("close segment %s: %w", seg.path, err)
			}
			s.w = nil
		}
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove acknowledged segment: %w", err)
		}
		s.disk -= seg.size
		s.segs = s.segs[1:]
	}
	return nil
}
