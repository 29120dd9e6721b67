package yara

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"lachan/internal/atomicfile"
)

// CacheFile is the name of the cache inside Config.StateDir.
const CacheFile = "yara-scan-cache"

// racyWindow: a file changed this recently may change again within the
// same timestamp tick without its size or times showing it (git's "racily
// clean" problem), so it is scanned again next time rather than trusted.
const racyWindow = time.Second

var cacheMagic = []byte("LCYSC\x00\x02\n")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Cache remembers the files that were scanned and what they looked like
// then (size, modification and change times, inode and device), under one
// scan key — the rule set's fingerprint and the settings that change what
// rules see. A file that still looks the same under the same key need not
// be scanned again; its findings were reported when it was scanned.
//
// A file with findings is only pending until the server has them: it is
// recorded with RecordPending, the spool records holding its findings are
// noted with Spooled, and Acked makes it done once the shipper's
// acknowledgement covers them all. A pending file is scanned again by
// every scan, and after a restart, so that findings lost with the spool
// (or the process) are found and sent again; their IDs come from their
// content, so the server keeps one copy.
//
// Paths are kept as 16-byte hashes, which bounds memory (about 80 bytes an
// entry) and keeps file names out of the state directory. A Cache is safe
// for concurrent use; a nil *Cache remembers nothing.
type Cache struct {
	path string
	max  int
	log  *slog.Logger
	racy time.Duration // racyWindow; tests shorten it

	mu      sync.Mutex
	key     string
	seq     uint64 // last use stamp; the smallest stamps are evicted first
	entries map[pathKey]cacheEntry
	dirty   bool
}

type pathKey [16]byte

// fileState is what a file looked like when it was scanned.
type fileState struct {
	Size, ModNs, ChangeNs int64
	Ino, Dev              uint64
}

type cacheEntry struct {
	st      fileState
	seq     uint64
	pending bool
	// from and to bound the spool records holding the findings of a
	// pending file, 0 when none is known. They are not saved: after a
	// restart a pending file is scanned, and its findings spooled, again.
	from, to uint64
	// want is how many findings the last scan of a pending file found,
	// got how many of them Spooled has placed: the file can be done only
	// once all are in the spool, or an early acknowledgement of the first
	// would make it done before a later one was spooled.
	want, got int
}

// OpenCache loads the cache from cfg.StateDir, creating the directory if
// needed. A missing, corrupt or unreadable cache file is logged and the
// cache starts empty: losing it only costs a full scan.
func OpenCache(cfg Config, log *slog.Logger) (*Cache, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("yara cache: state_dir is not set")
	}
	if cfg.CacheEntries <= 0 {
		return nil, fmt.Errorf("yara cache: cache_entries %d: must be positive", cfg.CacheEntries)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("yara cache: %w", err)
	}
	c := &Cache{path: filepath.Join(cfg.StateDir, CacheFile), max: cfg.CacheEntries, log: log, racy: racyWindow, entries: map[pathKey]cacheEntry{}}
	b, err := os.ReadFile(c.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, nil
	case err != nil:
		log.Warn("YARA scan cache unreadable; starting empty", "path", c.path, "err", err)
		return c, nil
	}
	key, seq, entries, err := decodeCache(b)
	if err != nil {
		log.Warn("YARA scan cache corrupt; starting empty", "path", c.path, "err", err)
		c.dirty = true // replace the bad file at the next Save
		return c, nil
	}
	c.key, c.seq, c.entries = key, seq, entries
	c.evict()
	return c, nil
}

func hashPath(p string) pathKey {
	sum := sha256.Sum256([]byte(p))
	return pathKey(sum[:16])
}

func stateOf(fi fs.FileInfo) fileState {
	st := fileState{Size: fi.Size(), ModNs: fi.ModTime().UnixNano()}
	st.Ino, st.Dev, st.ChangeNs = sysState(fi)
	return st
}

// use switches the cache to key, forgetting everything learnt under
// another one. The caller holds mu.
func (c *Cache) use(key string) {
	if key != c.key {
		c.key, c.entries, c.dirty = key, map[pathKey]cacheEntry{}, true
	}
}

// Unchanged reports whether path, looking as fi says, was scanned under
// key and has not changed since.
func (c *Cache) Unchanged(key, path string, fi fs.FileInfo) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.use(key)
	pk := hashPath(path)
	e, ok := c.entries[pk]
	if !ok || e.pending || e.st != stateOf(fi) {
		return false
	}
	c.seq++
	e.seq = c.seq
	c.entries[pk] = e
	c.dirty = true
	return true
}

// Record notes that path, looking as fi says, was scanned under key at
// now and had no findings. Files changed within the last second are not
// recorded (racyWindow).
func (c *Cache) Record(key, path string, fi fs.FileInfo, now time.Time) {
	c.record(key, path, fi, now, 0)
}

// RecordPending notes that path was scanned as Record does, with
// findings: it stays pending, scanned again by every scan, until Acked
// covers the records Spooled names for it.
// findings is how many the scan found.
func (c *Cache) RecordPending(key, path string, fi fs.FileInfo, now time.Time, findings int) {
	c.record(key, path, fi, now, findings)
}

func (c *Cache) record(key, path string, fi fs.FileInfo, now time.Time, findings int) {
	pending := findings > 0
	if c == nil {
		return
	}
	st := stateOf(fi)
	if now.UnixNano()-max(st.ModNs, st.ChangeNs) < int64(c.racy) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.use(key)
	c.seq++
	pk := hashPath(path)
	e := cacheEntry{st: st, seq: c.seq, pending: pending, want: findings}
	if old, ok := c.entries[pk]; ok && pending && old.pending {
		// Records spooled for an earlier scan still hold findings of
		// this file until they are acknowledged.
		e.from, e.to = old.from, old.to
	}
	c.entries[pk] = e
	c.dirty = true
	if len(c.entries) > c.max {
		c.evict()
	}
}

// Spooled notes that spool record seq holds a finding of path, which
// RecordPending recorded.
func (c *Cache) Spooled(path string, seq uint64) {
	if c == nil || seq == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pk := hashPath(path)
	e, ok := c.entries[pk]
	if !ok || !e.pending {
		return
	}
	if e.from == 0 || seq < e.from {
		e.from = seq
	}
	e.to = max(e.to, seq)
	e.got++
	c.entries[pk] = e
}

// Acked makes done every pending file whose spooled records are all at
// or below upTo, the spool's acknowledgement, unless lost says one of
// them was dropped as corrupt: such a file is forgotten, so that the next
// scan reads it and reports its findings again. lost may be nil.
func (c *Cache) Acked(upTo uint64, lost func(from, to uint64) bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if !e.pending || e.to == 0 || e.to > upTo || e.got < e.want {
			continue
		}
		if lost != nil && lost(e.from, e.to) {
			delete(c.entries, k)
		} else {
			e.pending, e.from, e.to = false, 0, 0
			c.entries[k] = e
		}
		c.dirty = true
	}
}

// Pending returns how many files wait for their findings to be
// acknowledged.
func (c *Cache) Pending() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.entries {
		if e.pending {
			n++
		}
	}
	return n
}

// Forget drops path, so that the next scan reads it again: its findings
// could not be reported (a full spool), and an unchanged file would
// otherwise never be scanned, nor its finding reported, again.
func (c *Cache) Forget(path string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[hashPath(path)]; ok {
		delete(c.entries, hashPath(path))
		c.dirty = true
	}
}

// Len returns how many files the cache holds.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// evict drops the least recently used tenth beyond the bound, so that
// the sort is paid once per many insertions. The caller holds mu.
func (c *Cache) evict() {
	if len(c.entries) <= c.max {
		return
	}
	keep := c.max - c.max/10
	seqs := make([]uint64, 0, len(c.entries))
	for _, e := range c.entries {
		seqs = append(seqs, e.seq)
	}
	slices.Sort(seqs)
	cut := seqs[len(seqs)-keep] // keep the entries at or above cut
	for k, e := range c.entries {
		if e.seq < cut {
			delete(c.entries, k)
		}
	}
	c.dirty = true
}

// Save writes the cache if it changed, atomically: a crash leaves the
// old file or the new one.
func (c *Cache) Save() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	b := encodeCache(c.key, c.seq, c.entries)
	c.dirty = false
	c.mu.Unlock()
	if err := atomicfile.Write(c.path, b, 0o600); err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return fmt.Errorf("yara cache: %w", err)
	}
	return nil
}

// The file: magic, key (uvarint length and bytes), last stamp, count,
// then per entry the path hash and size, mtime, ctime (varints), inode,
// device, stamp, flags (uvarints; flag 1 is pending), and a CRC-32C of
// everything before it.
func encodeCache(key string, seq uint64, entries map[pathKey]cacheEntry) []byte {
	b := make([]byte, 0, len(cacheMagic)+len(key)+32+len(entries)*48)
	b = append(b, cacheMagic...)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, seq)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for k, e := range entries {
		b = append(b, k[:]...)
		b = binary.AppendVarint(b, e.st.Size)
		b = binary.AppendVarint(b, e.st.ModNs)
		b = binary.AppendVarint(b, e.st.ChangeNs)
		b = binary.AppendUvarint(b, e.st.Ino)
		b = binary.AppendUvarint(b, e.st.Dev)
		b = binary.AppendUvarint(b, e.seq)
		var flags uint64
		if e.pending {
			flags |= 1
		}
		b = binary.AppendUvarint(b, flags)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// minEntry is the smallest encoded entry: a hash and seven one-byte varints.
const minEntry = 16 + 7

func decodeCache(b []byte) (key string, seq uint64, entries map[pathKey]cacheEntry, err error) {
	if len(b) < len(cacheMagic)+4 || !bytes.HasPrefix(b, cacheMagic) {
		return "", 0, nil, errors.New("not a scan cache (bad magic)")
	}
	body := b[:len(b)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return "", 0, nil, fmt.Errorf("checksum %08x, want %08x", got, want)
	}
	d := decoder{b: body, off: len(cacheMagic)}
	klen := d.uvarint()
	if d.err == nil && klen > uint64(len(body)-d.off) {
		d.fail("key length %d beyond the end", klen)
	}
	if d.err == nil {
		key = string(body[d.off : d.off+int(klen)])
		d.off += int(klen)
	}
	seq = d.uvarint()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(body)-d.off)/minEntry {
		d.fail("%d entries cannot fit in %d bytes", n, len(body)-d.off)
	}
	if d.err != nil {
		return "", 0, nil, d.err
	}
	entries = make(map[pathKey]cacheEntry, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		if len(body)-d.off < 16 {
			d.fail("entry %d truncated", i)
			break
		}
		var k pathKey
		copy(k[:], body[d.off:])
		d.off += 16
		e := cacheEntry{st: fileState{Size: d.varint(), ModNs: d.varint(), ChangeNs: d.varint(), Ino: d.uvarint(), Dev: d.uvarint()}, seq: d.uvarint()}
		if flags := d.uvarint(); flags&^1 != 0 {
			d.fail("entry %d: unknown flags %#x", i, flags)
		} else {
			e.pending = flags&1 != 0
		}
		entries[k] = e
	}
	if d.err == nil && d.off != len(body) {
		d.fail("%d bytes after the last entry", len(body)-d.off)
	}
	if d.err != nil {
		return "", 0, nil, d.err
	}
	return key, seq, entries, nil
}

// decoder reads varints, keeping the first error and its byte offset.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("byte %d: %s", d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}
