package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
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

// recover reads every segment, cuts each at its first bad frame and sets
// the counters and the read cursor.
func (s *Spool) recover() error {
	paths, err := listSegments(s.cfg.Dir)
	if err != nil {
		return err
	}
	var last uint64 // highest valid sequence number seen
	var dropped int64
	for _, p := range paths {
		seg, sc, err := s.scanSegment(p, last)
		if err != nil {
			return err
		}
		dropped += sc.lost
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
	return nil
}

// scanResult is what scanSegment learns beyond the segment itself.
type scanResult struct {
	firstUnacked int64 // offset of the first frame above the cursor
	unacked      int   // frames above the cursor
	lost         int64 // bytes cut off
}

// scanSegment verifies one segment whose frames must all follow prev,
// truncating it at its first bad frame.
func (s *Spool) scanSegment(path string, prev uint64) (*segment, scanResult, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, scanResult{}, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, scanResult{}, fmt.Errorf("stat segment: %w", err)
	}
	seg := &segment{path: path}
	var sc scanResult
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
			lost := fi.Size() - off
			s.log.Warn("spool segment cut at a bad frame", "segment", path, "offset", off, "dropped_bytes", lost, "err", err)
			if err := f.Truncate(off); err != nil {
				return nil, scanResult{}, fmt.Errorf("truncate segment %s: %w", path, err)
			}
			seg.size, sc.lost = off, lost
			return seg, sc, f.Sync()
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
				sc.firstUnacked = off
			}
			sc.unacked++
		}
	}
	seg.size = fi.Size()
	return seg, sc, nil
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
