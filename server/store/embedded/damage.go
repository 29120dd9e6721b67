package embedded

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// ErrDamaged is returned, wrapped in a *DamageError, by Open when a data
// file is damaged.
var ErrDamaged = errors.New("store damaged")

// Damage kinds.
const (
	DamageWAL   = "write-ahead log"
	DamageTable = "table"
)

// Damage is one damaged file.
type Damage struct {
	// File is the file's name within the store directory.
	File string
	// Kind is DamageWAL or DamageTable.
	Kind string
	// Offset is where the damage starts; -1 when not known.
	Offset int64
	// Length is how many bytes cannot be read.
	Length int64
	// Detail says what is wrong.
	Detail string

	// After is, for a log, how many bytes follow the damage: Pebble would
	// treat the damage as the end of the log and drop them all.
	After int64
	// Records and Events are what can be read from the file: a log's whole
	// records and the events in them, or a table's keys and event keys.
	Records, Events int
	// LostRecords and LostEvents are what Pebble would drop from a log:
	// the readable records after the damage and their events.
	LostRecords, LostEvents int
	// Cut counts a log's records cut by the damage, which nothing recovers.
	Cut int

	// Entries is a table's entry count from its properties; Entries-Records
	// is an estimate of the entries that cannot be read.
	Entries uint64
	// LostFrom and LostTo bound a table's keys that cannot be read.
	LostFrom, LostTo []byte
}

// String describes d in one line.
func (d Damage) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", d.Kind, d.File)
	if d.Offset >= 0 {
		fmt.Fprintf(&b, " is corrupt at offset %d", d.Offset)
	} else {
		b.WriteString(" is corrupt")
	}
	if d.Detail != "" {
		fmt.Fprintf(&b, " (%s)", d.Detail)
	}
	switch d.Kind {
	case DamageWAL:
		fmt.Fprintf(&b, ": %d bytes unreadable, %d cut record(s) lost; %s after it (%d records, %d events) would be dropped by a plain open; repair keeps %d records (%d events)",
			d.Length, d.Cut, sizeString(d.After), d.LostRecords, d.LostEvents, d.Records, d.Events)
	case DamageTable:
		lost := int64(d.Entries) - int64(d.Records)
		fmt.Fprintf(&b, ": %d of %d entries readable (%d events); about %d entries unreadable, keys %q to %q",
			d.Records, d.Entries, d.Events, max(lost, 0), d.LostFrom, d.LostTo)
	}
	return b.String()
}

// Report is what Check found.
type Report struct {
	Dir            string
	WALs, Tables   int
	Damage         []Damage
	TornTail       map[string]int64
	Events         int // events readable in the logs and tables, counted once per key occurrence
	TablesVerified bool
}

// Clean reports whether nothing is damaged.
func (r *Report) Clean() bool { return len(r.Damage) == 0 }

// DamageError is Open's error for a damaged store.
type DamageError struct {
	Dir    string
	Damage []Damage
}

func (e *DamageError) Error() string {
	parts := make([]string, len(e.Damage))
	for i, d := range e.Damage {
		parts[i] = d.String()
	}
	return fmt.Sprintf("store damaged: %s: %s; nothing was changed; stop the server and run `lachan store check` then `lachan store repair`",
		e.Dir, strings.Join(parts, "; "))
}

func (e *DamageError) Unwrap() error { return ErrDamaged }

// storeFile is a numbered Pebble file in a store directory.
type storeFile struct {
	name string
	num  uint64
}

// listFiles returns the store's files with suffix ext (".log", ".sst") in
// number order.
func listFiles(dir, ext string) ([]storeFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []storeFile
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(n, ext) {
			continue
		}
		num, err := strconv.ParseUint(strings.TrimSuffix(n, ext), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, storeFile{name: n, num: num})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].num < out[j].num })
	return out, nil
}

// checkWAL scans one log. torn is the size of a torn tail, which is no
// damage.
func checkWAL(dir string, f storeFile) (d *Damage, scan walScan, err error) {
	b, err := os.ReadFile(filepath.Join(dir, f.name))
	if err != nil {
		return nil, scan, fmt.Errorf("read %s: %w", f.name, err)
	}
	scan = scanWAL(b, uint32(f.num))
	if !scan.Damaged() {
		return nil, scan, nil
	}
	first := scan.Gaps[0]
	d = &Damage{File: f.name, Kind: DamageWAL, Offset: first.Offset, After: scan.End - first.Offset, Cut: scan.Partial}
	for _, g := range scan.Gaps {
		d.Length += g.Length
	}
	d.Length += scan.Torn
	d.Detail = fmt.Sprintf("%d damaged stretch(es), readable records follow", len(scan.Gaps))
	for _, r := range scan.Records {
		ev := batchEvents(r.Payload)
		d.Records++
		d.Events += ev
		if r.Offset > first.Offset {
			d.LostRecords++
			d.LostEvents += ev
		}
	}
	return d, scan, nil
}

// batchEvents counts the event records a Pebble batch writes; -1 entries
// of an undecodable batch count as none.
func batchEvents(repr []byte) int {
	if len(repr) < 12 {
		return 0
	}
	r, _ := pebble.ReadBatch(repr)
	n := 0
	for {
		kind, k, _, ok, err := r.Next()
		if !ok || err != nil {
			return n
		}
		if kind == pebble.InternalKeyKindSet && isEventKey(k) {
			n++
		}
	}
}

// isEventKey reports whether k is a primary event key, t/<part>e….
func isEventKey(k []byte) bool {
	n := len(prefixPart) + partLen
	return len(k) > n && strings.HasPrefix(string(k[:len(prefixPart)]), prefixPart) && k[n] == prefixEvent[0]
}

// checkWALs checks every log in dir. Logs kept by Pebble for recycling are
// checked too: without reading the MANIFEST they cannot be told from live
// ones, and they hold nothing that is not also in a table.
func checkWALs(dir string) (n int, damage []Damage, torn map[string]int64, events int, err error) {
	logs, err := listFiles(dir, ".log")
	if err != nil {
		return 0, nil, nil, 0, err
	}
	torn = map[string]int64{}
	for _, f := range logs {
		d, scan, err := checkWAL(dir, f)
		if err != nil {
			return 0, nil, nil, 0, err
		}
		if d != nil {
			damage = append(damage, *d)
			events += d.Events
			continue
		}
		for _, r := range scan.Records {
			events += batchEvents(r.Payload)
		}
		if scan.Torn > 0 {
			torn[f.name] = scan.Torn
		}
	}
	return len(logs), damage, torn, events, nil
}

// Check examines the store in dir, which no process may have open, and
// reports every damaged file: the logs, and every block checksum of every
// table when full is true (only footers and metadata otherwise).
func Check(dir string, full bool) (*Report, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("check store: %w", err)
	}
	lock, err := lockStore(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	return check(dir, full, lock)
}

// check examines dir, locked by lock: every log, and the tables the
// store's MANIFEST lists.
func check(dir string, full bool, lock *pebble.Lock) (*Report, error) {
	r := &Report{Dir: dir, TablesVerified: full}
	var err error
	r.WALs, r.Damage, r.TornTail, r.Events, err = checkWALs(dir)
	if err != nil {
		return nil, fmt.Errorf("check store %s: %w", dir, err)
	}
	live, err := liveTables(dir, lock)
	if err != nil {
		return nil, fmt.Errorf("check store %s: %w", dir, err)
	}
	n, damage, events, err := checkTables(dir, full, live)
	if err != nil {
		return nil, fmt.Errorf("check store %s: %w", dir, err)
	}
	r.Tables, r.Events = n, r.Events+events
	r.Damage = append(r.Damage, damage...)
	return r, nil
}

// checkLogsOnOpen checks the logs of the store in dir before Pebble
// replays them (it would take a bad chunk for the end and drop the rest).
func checkLogsOnOpen(dir string) error {
	_, damage, _, _, err := checkWALs(dir)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	if len(damage) > 0 {
		return &DamageError{Dir: dir, Damage: damage}
	}
	return nil
}

// checkTablesOnOpen checks the tables db lists, once it is open (so their
// list comes from the store itself, with no second open): every block when
// full, their footers and metadata otherwise.
func checkTablesOnOpen(dir string, db *pebble.DB, full bool) error {
	live, err := liveTablesOf(db)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	_, damage, _, err := checkTables(dir, full, live)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	if len(damage) > 0 {
		// The open store compacts while its tables are checked: a table
		// it listed may be gone since, its entries in a newer table.
		// Only a table still listed and still damaged is damage.
		if damage, err = stillListed(dir, db, damage); err != nil {
			return fmt.Errorf("open store: %w", err)
		}
	}
	if len(damage) > 0 {
		return &DamageError{Dir: dir, Damage: damage}
	}
	return nil
}

// stillListed keeps the damage of tables db still lists, and of tables it
// still lists but that are missing from the directory.
func stillListed(dir string, db *pebble.DB, damage []Damage) ([]Damage, error) {
	now, err := liveTablesOf(db)
	if err != nil {
		return nil, err
	}
	kept := damage[:0]
	for _, d := range damage {
		num, ok := tableNum(d.File)
		if ok && !now[num] {
			if _, err := os.Stat(filepath.Join(dir, d.File)); errors.Is(err, fs.ErrNotExist) {
				continue // compacted away after it was listed
			}
		}
		kept = append(kept, d)
	}
	return kept, nil
}

// tableNum is the file number of a table's name ("000010.sst" → 10).
func tableNum(name string) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".sst"), 10, 64)
	return n, err == nil && strings.HasSuffix(name, ".sst")
}

// lockStore takes the store's lock, naming a running server as the likely
// holder.
func lockStore(dir string) (*pebble.Lock, error) {
	lock, err := pebble.LockDirectory(dir, vfs.Default)
	if err != nil {
		return nil, fmt.Errorf("store %s is in use (is the server running? stop it first): %w", dir, err)
	}
	return lock, nil
}

// sizeString renders n bytes for people.
func sizeString(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
