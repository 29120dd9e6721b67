package pcapstore

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcap file and record header sizes.
const (
	fileHeaderLen   = 24
	recordHeaderLen = 16
)

// Stats counts what a Writer has kept and let go.
type Stats struct {
	Packets      int64 // packets written
	Files        int64 // files completed
	FilesDeleted int64 // files deleted, oldest first, to stay within the quota
	BytesDeleted int64 // bytes of those files and their indexes
	OnDisk       int64 // bytes of every file and index now kept
}

// Writer writes packets into rolling, indexed pcap files. Its methods are
// safe for concurrent use.
type Writer struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	files []stored // completed files, oldest first
	seq   uint64   // number of the file being written
	f     *os.File
	bw    *bufio.Writer
	pw    *pcapgo.Writer
	link  layers.LinkType
	off   int64 // bytes written to the current file
	idx   map[[sha1.Size]byte]*entry
	first int64
	last  int64
	st    Stats
}

type stored struct {
	seq  uint64
	size int64 // pcap and index together
}

// Open prepares a store in cfg.Dir; files already there count against
// the quota and numbering goes on after them.
func Open(cfg Config, log *slog.Logger) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("pcapstore: %w", err)
	}
	files, err := listFiles(cfg.Dir)
	if err != nil {
		return nil, err
	}
	w := &Writer{cfg: cfg, log: log.With("component", "pcapstore")}
	for _, seq := range files {
		w.files = append(w.files, stored{seq: seq, size: fileSize(cfg.Dir, seq)})
		w.seq = seq
	}
	return w, nil
}

func pcapPath(dir string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("capture-%020d.pcap", seq))
}

func indexPath(dir string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("capture-%020d.idx", seq))
}

func fileSize(dir string, seq uint64) int64 {
	var n int64
	for _, p := range []string{pcapPath(dir, seq), indexPath(dir, seq)} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// listFiles returns the sequence numbers of the capture files in dir.
func listFiles(dir string) ([]uint64, error) {
	names, err := filepath.Glob(filepath.Join(dir, "capture-*.pcap"))
	if err != nil {
		return nil, fmt.Errorf("pcapstore: %w", err)
	}
	var seqs []uint64
	for _, n := range names {
		var seq uint64
		if _, err := fmt.Sscanf(filepath.Base(n), "capture-%020d.pcap", &seq); err == nil {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// WritePacket keeps one packet; flow is its flow's Community ID hash, or
// nil when it has none (it is then kept but not indexed).
func (w *Writer) WritePacket(data []byte, ci gopacket.CaptureInfo, link layers.LinkType, flow *[sha1.Size]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil && (link != w.link || w.off >= w.cfg.FileSize) {
		if err := w.complete(); err != nil {
			return err
		}
	}
	if w.f == nil {
		if err := w.begin(link); err != nil {
			return err
		}
	}
	if len(data) > w.cfg.SnapLen {
		data = data[:w.cfg.SnapLen]
	}
	ci.CaptureLength = len(data)
	ci.Length = max(ci.Length, len(data))
	if err := w.pw.WritePacket(ci, data); err != nil {
		return fmt.Errorf("pcapstore: write %s: %w", pcapPath(w.cfg.Dir, w.seq), err)
	}
	ts := ci.Timestamp.UnixNano()
	if w.st.Packets++; w.off == fileHeaderLen || ts < w.first {
		w.first = ts
	}
	w.last = max(w.last, ts)
	if flow != nil {
		e := w.idx[*flow]
		if e == nil {
			e = &entry{hash: *flow, first: ts, last: ts}
			w.idx[*flow] = e
		}
		e.first, e.last = min(e.first, ts), max(e.last, ts)
		e.offsets = append(e.offsets, uint32(w.off))
	}
	w.off += recordHeaderLen + int64(len(data))
	return nil
}

func (w *Writer) begin(link layers.LinkType) error {
	w.seq++
	path := pcapPath(w.cfg.Dir, w.seq)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("pcapstore: %w", err)
	}
	w.f, w.bw, w.link = f, bufio.NewWriterSize(f, 256<<10), link
	w.pw = pcapgo.NewWriterNanos(w.bw)
	if err := w.pw.WriteFileHeader(uint32(w.cfg.SnapLen), link); err != nil {
		return fmt.Errorf("pcapstore: write %s: %w", path, err)
	}
	w.off, w.first, w.last = fileHeaderLen, 0, 0
	w.idx = make(map[[sha1.Size]byte]*entry)
	return nil
}

// complete closes the current file, writes its index and enforces the
// quota.
func (w *Writer) complete() error {
	path := pcapPath(w.cfg.Dir, w.seq)
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("pcapstore: close %s: %w", path, err)
	}
	x := index{first: w.first, last: w.last, entries: make([]entry, 0, len(w.idx))}
	for _, e := range w.idx {
		x.entries = append(x.entries, *e)
	}
	slices.SortFunc(x.entries, func(a, b entry) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	w.idx = nil
	if err := writeFileAtomic(indexPath(w.cfg.Dir, w.seq), &x); err != nil {
		return err
	}
	w.st.Files++
	w.off = 0
	w.files = append(w.files, stored{seq: w.seq, size: fileSize(w.cfg.Dir, w.seq)})
	w.enforceQuota()
	return nil
}

func writeFileAtomic(path string, x *index) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("pcapstore: %w", err)
	}
	err = writeIndex(f, x)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pcapstore: write index %s: %w", path, err)
	}
	return nil
}

// enforceQuota deletes the oldest completed files until the store fits.
func (w *Writer) enforceQuota() {
	total := w.off
	for _, s := range w.files {
		total += s.size
	}
	for len(w.files) > 0 && total > w.cfg.Quota {
		old := w.files[0]
		w.files = w.files[1:]
		for _, p := range []string{indexPath(w.cfg.Dir, old.seq), pcapPath(w.cfg.Dir, old.seq)} {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				w.log.Warn("deleting an old capture file", "path", p, "err", err)
			}
		}
		total -= old.size
		w.st.FilesDeleted++
		w.st.BytesDeleted += old.size
	}
	w.st.OnDisk = total
}

// Flush writes what is buffered to the current file, so that Fetch sees
// the latest packets.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("pcapstore: flush %s: %w", pcapPath(w.cfg.Dir, w.seq), err)
	}
	return nil
}

// Close completes the current file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	return w.complete()
}

// Stats returns the counters so far.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st
}
