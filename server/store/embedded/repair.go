package embedded

import (
	"fmt"
	"io"
	"lachan/internal/atomicfile"
	"os"
	"path/filepath"
)

// Repaired is what Repair did to one damaged file.
type Repaired struct {
	Damage
	// Kept is how many records (log) or entries (table) the repaired file
	// holds; KeptEvents how many of them are events. For DamageRows, Kept
	// is how many id/ entries were put back.
	Kept, KeptEvents int
	// Copy is where the damaged file was copied before the repair.
	Copy string
}

// String describes r in one line.
func (r Repaired) String() string {
	switch r.Kind {
	case DamageRows:
		return fmt.Sprintf("events: %d lost with the column blocks of their batches (keys %q to %q), their keys removed; %d id/ entries lost from events kept, put back",
			r.LostEvents, r.LostFrom, r.LostTo, r.Kept)
	case DamageWAL:
		return fmt.Sprintf("%s %s: kept %d records (%d events), %d of them after the damage; lost %d unreadable bytes and %d cut record(s); original in %s",
			r.Kind, r.File, r.Kept, r.KeptEvents, r.LostRecords, r.Length, r.Cut, r.Copy)
	default:
		lost := int64(r.Entries) - int64(r.Kept)
		return fmt.Sprintf("%s %s: kept %d entries (%d events); lost about %d entries, keys %q to %q; original in %s",
			r.Kind, r.File, r.Kept, r.KeptEvents, max(lost, 0), r.LostFrom, r.LostTo, r.Copy)
	}
}

// Repair recovers what can be read of the damaged files of the store in
// dir, which no process may have open. It first copies every damaged file
// into aside (created; it must not exist yet), so that nothing is lost that
// might be recovered by other means. A damaged log is rewritten with every
// whole record that can be read, before and after the damage. A damaged
// table is rewritten under its own name with the entries that can be read
// forward from its start and backward from its end; the entries between are
// lost, and older versions of their keys in lower levels, if any, show
// through. Repair returns what it did; a clean store is left untouched.
func Repair(dir, aside string) ([]Repaired, error) {
	lock, err := lockStore(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	rep, err := check(dir, true, lock)
	if err != nil {
		return nil, err
	}
	if rep.Clean() {
		return nil, nil
	}
	if err := os.Mkdir(aside, 0o700); err != nil {
		return nil, fmt.Errorf("repair store: keep damaged files: %w", err)
	}
	for _, d := range rep.Damage {
		if err := copyFile(filepath.Join(dir, d.File), filepath.Join(aside, d.File)); err != nil {
			return nil, fmt.Errorf("repair store: copy %s aside (nothing was changed): %w", d.File, err)
		}
	}
	if err := syncDir(aside); err != nil {
		return nil, fmt.Errorf("repair store: %w", err)
	}
	var done []Repaired
	for _, d := range rep.Damage {
		r := Repaired{Damage: d, Copy: filepath.Join(aside, d.File)}
		f := storeFile{name: d.File}
		var err error
		if d.Kind == DamageWAL {
			r.Kept, r.KeptEvents, err = repairWAL(dir, d.File)
		} else {
			r.Kept, r.KeptEvents, err = repairTable(dir, f)
		}
		if err != nil {
			return done, fmt.Errorf("repair store: %s (original kept in %s): %w", d.File, aside, err)
		}
		done = append(done, r)
	}
	if err := syncDir(dir); err != nil {
		return done, err
	}
	// An event whose key survived may have lost its row with the blocks
	// of its batch (layout 7): its keys go too, and the report says so.
	sw, err := sweepRows(dir, lock)
	if err != nil {
		return done, fmt.Errorf("repair store: go over the events left (damaged files kept in %s): %w", aside, err)
	}
	if sw.lost > 0 || sw.restored > 0 {
		done = append(done, Repaired{Damage: Damage{Kind: DamageRows, Offset: -1, LostEvents: sw.lost, LostFrom: sw.first, LostTo: sw.last}, Kept: sw.restored})
	}
	return done, nil
}

// repairWAL rewrites log name with its readable records.
func repairWAL(dir, name string) (kept, events int, err error) {
	logs, err := listFiles(dir, ".log")
	if err != nil {
		return 0, 0, err
	}
	var f storeFile
	for _, l := range logs {
		if l.name == name {
			f = l
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, 0, err
	}
	scan := scanWAL(b, uint32(f.num))
	recs := make([][]byte, len(scan.Records))
	for i, r := range scan.Records {
		recs[i] = r.Payload
		events += batchEvents(r.Payload)
	}
	if err := replaceFile(filepath.Join(dir, name), appendWAL(nil, uint32(f.num), recs)); err != nil {
		return 0, 0, err
	}
	return len(recs), events, nil
}

// repairTable rewrites table f with what can be read of it.
func repairTable(dir string, f storeFile) (kept, events int, err error) {
	r, err := openTable(filepath.Join(dir, f.name))
	if err != nil {
		return 0, 0, fmt.Errorf("its footer or metadata cannot be read, so nothing in it can be salvaged and Pebble cannot drop it from the MANIFEST by itself: %w", err)
	}
	defer r.Close()
	s := salvageTable(dir, f, r)
	n, err := rewriteTable(dir, f, r, s)
	return n, s.damage.Events, err
}

// replaceFile writes b to path through a temporary file and a rename.
func replaceFile(path string, b []byte) error {
	tmp := path + ".repair"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }
