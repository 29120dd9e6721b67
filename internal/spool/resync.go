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
	"strconv"
	"strings"

	"lachan/internal/atomicfile"
)

// Stats counts what the spool had to give up since it was created.
type Stats struct {
	// Dropped counts records lost to corrupt or torn frames: the records
	// missing between the good frames around a bad stretch, or, at the
	// end of the newest segment, the frame headers the stretch begins
	// with. Records already acknowledged are not counted.
	Dropped int64
	// DroppedBytes counts the bytes cut out of segment files.
	DroppedBytes int64
}

// Stats returns the counts kept in the spool directory, so that they
// survive restarts and are reported even when the agent stops right
// after finding the damage.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Lost reports whether any sequence number from from to to (inclusive)
// belonged to a record dropped as corrupt since the spool was opened. A
// record found lost when it was opened counts too.
func (s *Spool) Lost(from, to uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.lost {
		if r.from <= to && from <= r.to {
			return true
		}
	}
	return false
}

// Acked returns the highest acknowledged sequence number.
func (s *Spool) Acked() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// seqRange is an inclusive run of sequence numbers.
type seqRange struct{ from, to uint64 }

// maxLost bounds the ranges Lost remembers; past it the two oldest merge,
// which can only make Lost answer yes more often.
const maxLost = 1024

func (s *Spool) addLost(r seqRange) {
	if r.from > r.to || r.to == 0 {
		return
	}
	s.lost = append(s.lost, r)
	if len(s.lost) > maxLost {
		s.lost[1] = seqRange{min(s.lost[0].from, s.lost[1].from), max(s.lost[0].to, s.lost[1].to)}
		s.lost = s.lost[1:]
	}
}

// hole is a stretch of a segment file that holds no good frame.
type hole struct {
	off, end int64 // offsets in the file as found
	records  int64 // unacknowledged records it held, as far as known
	seqs     seqRange
}

// resync looks for the first offset at or after from where a whole frame
// with a good checksum and a sequence number in [lo, hi] starts. Such a
// frame is what a writer put there: a random stretch passes the checksum
// once in 2³² tries, and must also carry a plausible length and number.
func resync(f *os.File, from, size int64, lo, hi uint64) (at int64, seq uint64, ok bool, err error) {
	const window = 64 << 10
	buf := make([]byte, window+headerSize)
	for base := from; base+headerSize <= size; base += window {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-base)], base)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, false, fmt.Errorf("resync at offset %d: %w", base, err)
		}
		for i := 0; i < window && i+headerSize <= n; i++ {
			h := buf[i : i+headerSize]
			at := base + int64(i)
			length := int64(binary.LittleEndian.Uint32(h[0:4]))
			seq := binary.LittleEndian.Uint64(h[8:16])
			if length > maxRecord || length > size-at-headerSize || seq < lo || seq > hi {
				continue
			}
			ok, err := goodFrame(f, at, h, length)
			if err != nil {
				return 0, 0, false, err
			}
			if ok {
				return at, seq, true, nil
			}
		}
	}
	return 0, 0, false, nil
}

// goodFrame checks the payload of the frame whose header h is at off
// against the header's checksum, reading it in pieces so that a bogus
// length costs no allocation.
func goodFrame(f *os.File, off int64, h []byte, length int64) (bool, error) {
	c := crc32.Update(0, castagnoli, h[0:4])
	c = crc32.Update(c, castagnoli, h[8:16])
	r := io.NewSectionReader(f, off+headerSize, length)
	buf := make([]byte, min(length, 64<<10))
	for {
		n, err := r.Read(buf)
		c = crc32.Update(c, castagnoli, buf[:n])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, fmt.Errorf("check frame at offset %d: %w", off, err)
		}
		if n == 0 {
			break
		}
	}
	return c == binary.LittleEndian.Uint32(h[4:8]), nil
}

// tailRecords counts the frames a bad stretch running to the end of the
// newest segment held, following length fields from its start: every
// frame but a whole one with a good checksum numbered at or below floor
// (a frame written again), and one for a piece too short for a header.
// A stretch of zeros counts nothing: it is what a file system leaves when
// a crash caught a write whose size it had recorded and whose data it had
// not, an Append that never returned. Without a later good frame nothing
// else tells how many records there were.
func tailRecords(f *os.File, off, size int64, floor uint64) int64 {
	if allZero(f, off, size) {
		return 0
	}
	var n int64
	var h [headerSize]byte
	for off < size {
		if size-off < headerSize {
			return n + 1
		}
		if _, err := f.ReadAt(h[:], off); err != nil {
			return n + 1
		}
		length := int64(binary.LittleEndian.Uint32(h[0:4]))
		fits := length <= size-off-headerSize
		if seq := binary.LittleEndian.Uint64(h[8:16]); seq > floor || !fits {
			n++
		} else if ok, err := goodFrame(f, off, h[:], length); err != nil || !ok {
			n++
		}
		if !fits {
			break
		}
		off += headerSize + length
	}
	return n
}

func allZero(f *os.File, off, size int64) bool {
	buf := make([]byte, 32<<10)
	for off < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		for _, c := range buf[:n] {
			if c != 0 {
				return false
			}
		}
		if n == 0 || err != nil && !errors.Is(err, io.EOF) {
			return false
		}
		off += int64(n)
	}
	return true
}

// repair removes the holes from a segment file: a hole at the end is cut
// off; anything else means copying the good frames to a new file that
// replaces the old one atomically.
func repair(path string, size int64, holes []hole) error {
	if len(holes) == 1 && holes[0].end == size {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("repair segment: %w", err)
		}
		defer f.Close()
		if err := f.Truncate(holes[0].off); err != nil {
			return fmt.Errorf("truncate segment %s: %w", path, err)
		}
		return f.Sync()
	}
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("repair segment: %w", err)
	}
	defer src.Close()
	tmp := path + ".repair"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("repair segment: %w", err)
	}
	var off int64
	for _, h := range append(holes, hole{off: size, end: size}) {
		if _, err = io.Copy(dst, io.NewSectionReader(src, off, h.off-off)); err != nil {
			break
		}
		off = h.end
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("repair segment %s: %w", path, err)
	}
	return nil
}

// segmentName returns the sequence number a segment file is named after:
// the number of the first record written to it.
func segmentName(path string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".seg"), 10, 64)
	return n
}

// The stats file is 16 bytes of counts (records, bytes) and 4 of
// CRC-32C, replaced atomically like the cursor.
func (s *Spool) statsPath() string { return filepath.Join(s.cfg.Dir, "dropped") }

func readStats(path string) (Stats, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Stats{}, nil
	}
	if err != nil {
		return Stats{}, fmt.Errorf("read drop counts: %w", err)
	}
	if len(b) != 20 || crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return Stats{}, fmt.Errorf("drop counts %s are corrupt (%d bytes); remove the file to count from zero", path, len(b))
	}
	return Stats{Dropped: int64(binary.LittleEndian.Uint64(b[0:8])), DroppedBytes: int64(binary.LittleEndian.Uint64(b[8:16]))}, nil
}

func writeStats(path string, st Stats) error {
	var b [20]byte
	binary.LittleEndian.PutUint64(b[0:8], uint64(st.Dropped))
	binary.LittleEndian.PutUint64(b[8:16], uint64(st.DroppedBytes))
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	return atomicfile.Write(path, b[:], 0o600)
}

// repairLive cuts the bad stretches out of a segment in use, as Open
// would, and sets the counters and the read cursor again.
func (s *Spool) repairLive(seg *segment) error {
	i := s.segIndex(seg)
	if i == len(s.segs) {
		return nil
	}
	var prev uint64
	for j := i - 1; j >= 0; j-- {
		if s.segs[j].count > 0 {
			prev = s.segs[j].last
			break
		}
	}
	hi := uint64(math.MaxUint64)
	if i+1 < len(s.segs) && segmentName(s.segs[i+1].path) > 0 {
		hi = segmentName(s.segs[i+1].path) - 1
	}
	if i == len(s.segs)-1 && s.w != nil {
		// The repair may replace the file; appends reopen it.
		if err := s.w.Close(); err != nil {
			return fmt.Errorf("close segment %s: %w", seg.path, err)
		}
		s.w = nil
	}
	ns, sc, err := s.scanSegment(seg.path, prev, hi)
	if err != nil {
		return err
	}
	if err := s.cutHoles(seg.path, sc); err != nil {
		return err
	}
	s.disk += ns.size - seg.size
	*seg = *ns
	s.clampLost()
	s.peek = peekMark{}
	return s.recount()
}

// recount sets the number of unacknowledged records and the read cursor
// from the segments.
func (s *Spool) recount() error {
	s.unacked = 0
	for _, seg := range s.segs {
		if seg.count == 0 || seg.last <= s.acked {
			continue
		}
		if s.unacked > 0 {
			s.unacked += seg.count
			continue
		}
		n, at, _, err := walkSegment(seg, 0, s.acked)
		if err != nil {
			return err
		}
		s.cur, s.unacked = position{seg, at}, seg.count-n
	}
	return nil
}
