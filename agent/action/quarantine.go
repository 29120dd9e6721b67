package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"lachan/internal/action"
	"lachan/internal/atomicfile"
)

// Quarantined is what the store keeps beside a quarantined file, enough
// to give it back as it was.
type Quarantined struct {
	// ID is the quarantine action's ID, which restore-file names.
	ID     string      `json:"id"`
	Path   string      `json:"path"`
	SHA256 string      `json:"sha256"`
	Size   int64       `json:"size"`
	Mode   os.FileMode `json:"mode"`
	UID    int         `json:"uid"`
	GID    int         `json:"gid"`
	Owner  string      `json:"owner,omitempty"`
	Group  string      `json:"group,omitempty"`
	ATime  time.Time   `json:"atime"`
	MTime  time.Time   `json:"mtime"`
	// CTime (Linux: the inode's change time; Windows: creation time) is
	// recorded, not restored: the kernel sets it.
	CTime time.Time `json:"ctime,omitzero"`
	At    time.Time `json:"quarantined_at"`
}

const (
	quarantineData = "data"
	quarantineMeta = "meta.json"
)

func (e *Executor) quarantineDir(id string) string {
	return filepath.Join(e.cfg.Dir, quarantineDir, id)
}

// regular checks that path is a plain file outside the agent's own state.
func (e *Executor) regular(path string) (os.FileInfo, string, error) {
	if !filepath.IsAbs(path) {
		return nil, "", fmt.Errorf("path %q is not absolute", path)
	}
	clean := filepath.Clean(path)
	if abs, err := filepath.Abs(e.cfg.Dir); err == nil && (clean == abs || strings.HasPrefix(clean, abs+string(filepath.Separator))) {
		return nil, "", fmt.Errorf("path %s is inside the agent's own state directory", clean)
	}
	fi, err := os.Lstat(clean)
	if err != nil {
		return nil, "", err
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%s is not a regular file (%s)", clean, fi.Mode().Type())
	}
	return fi, clean, nil
}

// quarantine moves a file into the agent's store: its bytes into data
// (readable by the agent only), its hash and metadata into meta.json,
// written before the original is removed so that a crash leaves the file
// in one place or both, never in none.
func (e *Executor) quarantine(_ context.Context, a action.Action, r *action.Result) error {
	fi, path, err := e.regular(a.Args["path"])
	if err != nil {
		return err
	}
	q := Quarantined{ID: a.ID, Path: path, Size: fi.Size(), Mode: fi.Mode(), MTime: fi.ModTime(), At: e.now().UTC()}
	fileMeta(fi, &q)
	dir := e.quarantineDir(a.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	sum, n, err := copyFile(path, filepath.Join(dir, quarantineData), 0o400)
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("copy %s into quarantine: %w", path, err)
	}
	if n != fi.Size() {
		os.RemoveAll(dir)
		return fmt.Errorf("%s changed while it was copied (%d bytes, then %d); not quarantined", path, fi.Size(), n)
	}
	q.SHA256 = sum
	b, _ := json.MarshalIndent(q, "", "  ")
	if err := atomicfile.Write(filepath.Join(dir, quarantineMeta), b, 0o600); err != nil {
		os.RemoveAll(dir)
		return err
	}
	if err := os.Remove(path); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("remove %s after copying it into quarantine: %w", path, err)
	}
	_ = atomicfile.SyncDir(filepath.Dir(path))
	quarantineEvidence(q, r)
	r.Output = "đã cách ly tệp / file quarantined: " + path
	return nil
}

func quarantineEvidence(q Quarantined, r *action.Result) {
	r.Evidence["file.path"] = q.Path
	r.Evidence["file.hash.sha256"] = q.SHA256
	r.Evidence["file.size"] = strconv.FormatInt(q.Size, 10)
	r.Evidence["file.mode"] = fmt.Sprintf("%#o", unixMode(q.Mode))
	r.Evidence["file.uid"] = strconv.Itoa(q.UID)
	r.Evidence["file.gid"] = strconv.Itoa(q.GID)
	r.Evidence["file.owner"] = q.Owner
	r.Evidence["file.group"] = q.Group
	r.Evidence["file.mtime"] = q.MTime.UTC().Format(time.RFC3339Nano)
	r.Evidence["file.atime"] = q.ATime.UTC().Format(time.RFC3339Nano)
	if !q.CTime.IsZero() {
		r.Evidence["file.ctime"] = q.CTime.UTC().Format(time.RFC3339Nano)
	}
	r.Evidence["quarantine.id"] = q.ID
}

// restore gives a quarantined file back where it was, byte for byte, with
// its mode, owner and times; it refuses to replace a file that is there
// now.
func (e *Executor) restore(_ context.Context, a action.Action, r *action.Result) error {
	dir := e.quarantineDir(a.Args["quarantine"])
	b, err := os.ReadFile(filepath.Join(dir, quarantineMeta))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no quarantined file %s on this PC", a.Args["quarantine"])
	}
	if err != nil {
		return err
	}
	var q Quarantined
	if err := json.Unmarshal(b, &q); err != nil {
		return fmt.Errorf("quarantine %s: %w", a.Args["quarantine"], err)
	}
	if _, err := os.Lstat(q.Path); err == nil {
		return fmt.Errorf("%s exists now; move it away before restoring", q.Path)
	}
	tmp := q.Path + ".lachan-restore"
	sum, _, err := copyFile(filepath.Join(dir, quarantineData), tmp, 0o600)
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore %s: %w", q.Path, err)
	}
	if sum != q.SHA256 {
		os.Remove(tmp)
		return fmt.Errorf("quarantined copy of %s is damaged (SHA-256 %s, was %s); not restored", q.Path, sum, q.SHA256)
	}
	if err := setMeta(tmp, q); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore %s: %w", q.Path, err)
	}
	if err := os.Rename(tmp, q.Path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore %s: %w", q.Path, err)
	}
	_ = atomicfile.SyncDir(filepath.Dir(q.Path))
	if err := os.RemoveAll(dir); err != nil {
		e.log.Warn("restored file's quarantine copy not removed", "dir", dir, "err", err)
	}
	quarantineEvidence(q, r)
	r.Output = "đã khôi phục tệp / file restored: " + q.Path
	return nil
}

// copyFile copies src to a new file dst of the given mode, synced, and
// returns the SHA-256 of what it copied.
func copyFile(src, dst string, mode os.FileMode) (string, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return "", 0, err
	}
	h := newHash()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", n, err
	}
	return h.hex(), n, nil
}

// collect reads a file of at most the configured size for upload; a
// larger one is reported with its size and hash, and not sent.
func (e *Executor) collect(_ context.Context, a action.Action, r *action.Result) error {
	fi, path, err := e.regular(a.Args["path"])
	if err != nil {
		return err
	}
	r.Evidence["file.path"] = path
	r.Evidence["file.mtime"] = fi.ModTime().UTC().Format(time.RFC3339Nano)
	if fi.Size() > e.cfg.CollectMaxBytes {
		sum, n, err := hashFile(path)
		if err == nil {
			r.Evidence["file.hash.sha256"], r.Evidence["file.size"] = sum, strconv.FormatInt(n, 10)
		}
		return fmt.Errorf("%s is %d bytes, above actions.collect_max_bytes (%d); hashed, not sent", path, fi.Size(), e.cfg.CollectMaxBytes)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, e.cfg.CollectMaxBytes+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > e.cfg.CollectMaxBytes {
		return fmt.Errorf("%s grew above actions.collect_max_bytes while it was read; not sent", path)
	}
	h := newHash()
	h.Write(data)
	r.Evidence["file.hash.sha256"], r.Evidence["file.size"] = h.hex(), strconv.Itoa(len(data))
	r.File = data
	r.Output = "đã thu tệp / file collected: " + path
	return nil
}

// unixMode is a mode as ls and chmod write it (04755), not Go's bits.
func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	for bit, v := range map[os.FileMode]uint32{os.ModeSetuid: 0o4000, os.ModeSetgid: 0o2000, os.ModeSticky: 0o1000} {
		if m&bit != 0 {
			u |= v
		}
	}
	return u
}
