package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/sstable"
	"github.com/cockroachdb/pebble/vfs"
)

// tableReaderOptions reads tables as the store writes them.
func tableReaderOptions() sstable.ReaderOptions {
	f := bloom.FilterPolicy(10)
	return sstable.ReaderOptions{Filters: map[string]sstable.FilterPolicy{f.Name(): f}}
}

// openTable opens a table for reading; opening reads and checks its footer,
// metaindex and properties. The caller closes the reader.
func openTable(path string) (*sstable.Reader, error) {
	f, err := vfs.Default.Open(path)
	if err != nil {
		return nil, err
	}
	readable, err := sstable.NewSimpleReadable(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := sstable.NewReader(readable, tableReaderOptions())
	if err != nil {
		return nil, err
	}
	return r, nil
}

// checkTables checks every table of the store in dir: footer and metadata
// always, every block's checksum when full. events counts the event keys
// of the tables read in full. Only the tables the MANIFEST lists are the
// store's: a table a crash cut while a flush or compaction wrote it was
// never listed, holds nothing that is not elsewhere, and is deleted when
// the store opens.
func checkTables(dir string, full bool, live map[uint64]bool) (n int, damage []Damage, events int, err error) {
	tables, err := listFiles(dir, ".sst")
	if err != nil {
		return 0, nil, 0, err
	}
	tables = slices.DeleteFunc(tables, func(f storeFile) bool { return live != nil && !live[f.num] })
	for _, f := range tables {
		d, ev := checkTable(dir, f, full)
		if d != nil {
			damage = append(damage, *d)
		}
		events += ev
	}
	return len(tables), damage, events, nil
}

// liveTables returns the file numbers of the tables the store's MANIFEST
// lists, read by opening the store read-only under lock (which replays the
// logs in memory only and changes nothing); nil when the directory has no
// MANIFEST yet.
func liveTables(dir string, lock *pebble.Lock) (map[uint64]bool, error) {
	if m, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*")); len(m) == 0 {
		return nil, nil
	}
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Lock: lock, Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("read the table list: %w", err)
	}
	defer db.Close()
	return liveTablesOf(db)
}

// liveTablesOf returns the file numbers of the tables an open store lists.
func liveTablesOf(db *pebble.DB) (map[uint64]bool, error) {
	levels, err := db.SSTables()
	if err != nil {
		return nil, fmt.Errorf("read the table list: %w", err)
	}
	live := map[uint64]bool{}
	for _, level := range levels {
		for _, t := range level {
			live[uint64(t.FileNum)] = true
			live[uint64(t.BackingSSTNum)] = true
		}
	}
	return live, nil
}

// quietLogger drops Pebble's messages while it only lists tables.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf(format, args...))
}

// checkTable checks one table and counts its event keys when full.
func checkTable(dir string, f storeFile, full bool) (*Damage, int) {
	r, err := openTable(filepath.Join(dir, f.name))
	if err != nil {
		s := salvageTable(dir, f, nil)
		s.damage.Detail = "footer or metadata unreadable: " + err.Error()
		return &s.damage, 0
	}
	defer r.Close()
	if !full {
		return nil, 0
	}
	if err := r.ValidateBlockChecksums(); err != nil {
		s := salvageTable(dir, f, r)
		s.damage.Detail = err.Error()
		s.damage.Offset = badBlock(filepath.Join(dir, f.name), r)
		return &s.damage, s.damage.Events
	}
	it, err := r.NewIter(nil, nil)
	if err != nil {
		return &Damage{File: f.name, Kind: DamageTable, Offset: -1, Detail: err.Error()}, 0
	}
	events := 0
	for k, _ := it.First(); k != nil; k, _ = it.Next() {
		if k.Kind() == pebble.InternalKeyKindSet && isEventKey(k.UserKey) {
			events++
		}
	}
	if err := it.Close(); err != nil {
		return &Damage{File: f.name, Kind: DamageTable, Offset: -1, Detail: err.Error()}, 0
	}
	return nil, events
}

// badBlock returns the offset of the first block of the table at path whose
// CRC-32C checksum does not match, or -1.
func badBlock(path string, r *sstable.Reader) int64 {
	l, err := r.Layout()
	if err != nil {
		return -1
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	handles := append([]sstable.BlockHandle{}, l.Index...)
	for _, d := range l.Data {
		handles = append(handles, d.BlockHandle)
	}
	first := int64(-1)
	for _, h := range handles {
		end := h.Offset + h.Length + 5
		if end > uint64(len(b)) {
			return int64(h.Offset)
		}
		if walCRC(b[h.Offset:h.Offset+h.Length+1]) != binary.LittleEndian.Uint32(b[h.Offset+h.Length+1:end]) {
			if first < 0 || int64(h.Offset) < first {
				first = int64(h.Offset)
			}
		}
	}
	return first
}

// salvaged is what can be read from a damaged table.
type salvaged struct {
	damage Damage
	// head are the entries read forward up to the damage, tail those read
	// backward from the end down to it, in reverse.
	head, tail []tableEntry
	rangeDels  []tableEntry
}

type tableEntry struct {
	key   pebble.InternalKey
	value []byte
}

// salvageTable reads what it can of a damaged table: forward from the first
// key to the first unreadable block, and backward from the last key to the
// last unreadable one. What lies between is lost. r may be nil when the
// table's metadata cannot be read; then nothing is salvaged.
func salvageTable(dir string, f storeFile, r *sstable.Reader) salvaged {
	s := salvaged{damage: Damage{File: f.name, Kind: DamageTable, Offset: -1}}
	if fi, err := os.Stat(filepath.Join(dir, f.name)); err == nil {
		s.damage.Length = fi.Size()
	}
	if r == nil {
		return s
	}
	s.damage.Entries = r.Properties.NumEntries
	it, err := r.NewIter(nil, nil)
	if err != nil {
		return s
	}
	add := func(dst *[]tableEntry, k *pebble.InternalKey, v pebble.LazyValue) bool {
		val, _, err := v.Value(nil)
		if err != nil {
			return false
		}
		*dst = append(*dst, tableEntry{key: k.Clone(), value: append([]byte(nil), val...)})
		if k.Kind() == pebble.InternalKeyKindSet && isEventKey(k.UserKey) {
			s.damage.Events++
		}
		return true
	}
	for k, v := it.First(); k != nil && add(&s.head, k, v); k, v = it.Next() {
	}
	it.Close()
	if it, err = r.NewIter(nil, nil); err == nil {
		for k, v := it.Last(); k != nil && add(&s.tail, k, v); k, v = it.Prev() {
		}
		it.Close()
	}
	// With a single bad block read from both sides, the two reads meet
	// only if nothing was bad at all; drop any overlap to be safe.
	if len(s.head) > 0 {
		last := s.head[len(s.head)-1].key
		for len(s.tail) > 0 && pebble.DefaultComparer.Compare(s.tail[len(s.tail)-1].key.UserKey, last.UserKey) <= 0 {
			s.tail = s.tail[:len(s.tail)-1]
		}
	}
	s.damage.Records = len(s.head) + len(s.tail)
	if len(s.head) > 0 {
		s.damage.LostFrom = s.head[len(s.head)-1].key.UserKey
	}
	if len(s.tail) > 0 {
		s.damage.LostTo = s.tail[len(s.tail)-1].key.UserKey
	}
	if rd, err := r.NewRawRangeDelIter(); err == nil && rd != nil {
		for sp := rd.First(); sp != nil; sp = rd.Next() {
			for _, k := range sp.Keys {
				key := pebble.InternalKey{UserKey: append([]byte(nil), sp.Start...), Trailer: k.Trailer}
				s.rangeDels = append(s.rangeDels, tableEntry{key: key, value: append([]byte(nil), sp.End...)})
			}
		}
		rd.Close()
	}
	return s
}

// padProperty is the table property that pads a rewritten table.
const padProperty = "lachan.repair.padding"

// padCollector adds a padding property of n bytes to a table.
type padCollector struct{ n int }

func (c padCollector) Add(pebble.InternalKey, []byte) error { return nil }
func (c padCollector) Name() string                         { return "lachan.repair" }
func (c padCollector) Finish(props map[string]string) error {
	props[padProperty] = strings.Repeat("\x00", c.n)
	return nil
}

// rewriteTable writes what was salvaged of table f into a new file of the
// same name, in the same format, and returns the number of entries written.
// Every salvaged key keeps its sequence number and lies within the bounds
// the MANIFEST records for the table, so the LSM stays consistent; the keys
// that could not be read are gone from it. Pebble checks a table's size
// against the MANIFEST, so the new file is padded to the old size with a
// property of its uncompressed properties block.
func rewriteTable(dir string, f storeFile, r *sstable.Reader, s salvaged) (int, error) {
	format, err := r.TableFormat()
	if err != nil {
		return 0, err
	}
	path := filepath.Join(dir, f.name)
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	want := fi.Size()
	tmp := path + ".repair"
	pad := 0
	// The padding's length prefix is a varint, so a few tries may be
	// needed to land on the size exactly.
	for try := 0; try < 4; try++ {
		n, size, err := writeTable(tmp, format, s, pad)
		if err != nil {
			os.Remove(tmp)
			return 0, fmt.Errorf("rewrite table %s: %w", f.name, err)
		}
		if size == want {
			if err := os.Rename(tmp, path); err != nil {
				return 0, fmt.Errorf("rewrite table %s: %w", f.name, err)
			}
			return n, nil
		}
		pad += int(want - size)
		if pad < 0 {
			break
		}
	}
	os.Remove(tmp)
	return 0, fmt.Errorf("rewrite table %s: the salvaged entries do not fit in its recorded size of %d bytes", f.name, want)
}

// writeTable writes s to path with a padding property of pad bytes and
// returns the entries written and the file's size.
func writeTable(path string, format sstable.TableFormat, s salvaged, pad int) (int, int64, error) {
	out, err := vfs.Default.Create(path)
	if err != nil {
		return 0, 0, err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(out), sstable.WriterOptions{
		TableFormat:             format,
		FilterPolicy:            bloom.FilterPolicy(10),
		BlockSize:               tableBlockSize,
		Compression:             tableCompression,
		TablePropertyCollectors: []func() sstable.TablePropertyCollector{func() sstable.TablePropertyCollector { return padCollector{pad} }},
	})
	n := 0
	for _, e := range s.head {
		err = errors.Join(err, w.Add(e.key, e.value))
		n++
	}
	for i := len(s.tail) - 1; i >= 0; i-- {
		err = errors.Join(err, w.Add(s.tail[i].key, s.tail[i].value))
		n++
	}
	for _, e := range s.rangeDels {
		err = errors.Join(err, w.Add(e.key, e.value))
	}
	if err = errors.Join(err, w.Close()); err != nil {
		return 0, 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	return n, fi.Size(), nil
}
