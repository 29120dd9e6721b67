package yara

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"lachan/internal/event"
)

// ErrNoYARA is returned by every function of a build without cgo.
var ErrNoYARA = errors.New("this build has no YARA support: rebuild with CGO_ENABLED=1 and libyara (Debian: libyara-dev)")

// CompileError is a rule file YARA refused, with the line it complained
// about (0 when the whole file is at fault).
type CompileError struct {
	File string
	Line int
	Msg  string
}

func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Finding is one rule matching one file.
type Finding struct {
	Rule      string         `json:"rule"`
	Namespace string         `json:"namespace"`
	Tags      []string       `json:"tags,omitempty"`
	Meta      map[string]any `json:"meta,omitempty"`
	Path      string         `json:"path,omitempty"`
	Size      int64          `json:"size,omitempty"`
	SHA256    string         `json:"sha256,omitempty"`
	// PID and ProcessName are set instead of the file's fields when the
	// match was in a process's memory.
	PID         int       `json:"pid,omitempty"`
	ProcessName string    `json:"process_name,omitempty"`
	Time        time.Time `json:"time"`
}

// ScanStats counts what one ScanPaths call did.
type ScanStats struct {
	Files    int64 `json:"files"`    // files scanned
	Skipped  int64 `json:"skipped"`  // files too large, or not regular files
	Errors   int64 `json:"errors"`   // files that could not be read or scanned
	Findings int64 `json:"findings"` // rule matches reported
	Bytes    int64 `json:"bytes"`    // bytes scanned
	// Unchanged files were skipped because the cache knew them.
	Unchanged int64 `json:"unchanged"`
	// MemorySkipped files were skipped because memory was above MaxRSS.
	MemorySkipped int64 `json:"memory_skipped"`
	// FirstErrors keeps the first few per-file errors for the operator.
	FirstErrors []string `json:"first_errors,omitempty"`
	// TimedOut files ran out of Config.FileTimeout; they are counted in
	// Errors too. Runaways names the rules at fault for the first few.
	TimedOut int64     `json:"timed_out,omitempty"`
	Runaways []Runaway `json:"runaways,omitempty"`
	// Vanished files were removed between being listed and being read (a
	// temporary file in a watched or scanned folder): not an error.
	Vanished int64 `json:"vanished,omitempty"`
}

const keepErrors = 5

// Runaway is a file whose scan ran out of Config.FileTimeout, with the
// rules that ran away on it.
type Runaway struct {
	Path    string        `json:"path"`
	Timeout time.Duration `json:"timeout"`
	// Rules are "namespace:rule" (the namespace is the rule file), the
	// slowest first: those that ran out of Config.RunawayLimit scanning
	// the file alone, or the slowest when none did.
	Rules []string `json:"rules"`
}

// ProcStats counts what one ScanProcesses call did.
type ProcStats struct {
	Processes int64 `json:"processes"` // processes scanned
	Errors    int64 `json:"errors"`    // processes that could not be read (gone, protected)
	Findings  int64 `json:"findings"`  // rule matches reported
	// FirstErrors keeps the first few per-process errors for the operator.
	FirstErrors []string `json:"first_errors,omitempty"`
}

// add merges o into s.
func (s *ScanStats) add(o ScanStats) {
	s.Files += o.Files
	s.Skipped += o.Skipped
	s.Errors += o.Errors
	s.Vanished += o.Vanished
	s.Findings += o.Findings
	s.Bytes += o.Bytes
	s.Unchanged += o.Unchanged
	s.MemorySkipped += o.MemorySkipped
	s.TimedOut += o.TimedOut
	for _, r := range o.Runaways {
		if len(s.Runaways) < keepErrors {
			s.Runaways = append(s.Runaways, r)
		}
	}
	for _, e := range o.FirstErrors {
		if len(s.FirstErrors) < keepErrors {
			s.FirstErrors = append(s.FirstErrors, e)
		}
	}
}

func (s *ScanStats) fileError(err error) {
	if errors.Is(err, fs.ErrNotExist) {
		s.Vanished++
		return
	}
	s.Errors++
	if len(s.FirstErrors) < keepErrors {
		s.FirstErrors = append(s.FirstErrors, err.Error())
	}
}

// Event turns the finding into the event the agent ships. Its ID is
// derived from the agent, rule, path and content, so that the same file
// matching the same rule in every hourly scan is stored once.
func (f Finding) Event(agentID string) event.Event {
	ev := event.New(event.DatasetYARA, f.Time)
	if f.PID != 0 {
		// A process's memory changes all the time: its identity is the
		// process, not a hash.
		ev.ID = event.DeriveID("yara", agentID, f.Namespace, f.Rule, "process", strconv.Itoa(f.PID), f.ProcessName)
	} else {
		ev.ID = event.DeriveID("yara", agentID, f.Namespace, f.Rule, f.Path, f.SHA256)
	}
	tags := f.Tags
	if tags == nil {
		tags = []string{}
	}
	meta := make(map[string]any, len(f.Meta))
	for k, v := range f.Meta {
		switch x := v.(type) {
		case int:
			meta[k] = int64(x)
		case string, bool, int64, float64:
			meta[k] = x
		default:
			meta[k] = fmt.Sprint(x)
		}
	}
	ev.Set("event.kind", "event")
	ev.Set("yara.rule", f.Rule)
	ev.Set("yara.namespace", f.Namespace)
	ev.Set("yara.tags", tags)
	ev.Set("yara.meta", meta)
	ev.Set("agent.id", agentID)
	ev.Set("host.id", agentID)
	if f.PID != 0 {
		ev.Set("event.category", []string{"malware", "process"})
		ev.Set("process.pid", int64(f.PID))
		ev.Set("process.name", f.ProcessName)
		return ev
	}
	ev.Set("event.category", []string{"malware", "file"})
	ev.Set("file.path", f.Path)
	ev.Set("file.name", filepath.Base(f.Path))
	if ext := strings.TrimPrefix(filepath.Ext(f.Path), "."); ext != "" {
		ev.Set("file.extension", strings.ToLower(ext))
	}
	ev.Set("file.size", f.Size)
	if f.SHA256 != "" {
		ev.Set("file.hash.sha256", f.SHA256)
	}
	return ev
}

// magics maps file headers to the filetype names rule sets written for
// LOKI and THOR compare against.
var magics = []struct {
	prefix []byte
	name   string
}{
	{[]byte("MZ"), "EXE"},
	{[]byte("\x7fELF"), "ELF"},
	{[]byte("\xfe\xed\xfa\xce"), "MACH-O"},
	{[]byte("\xfe\xed\xfa\xcf"), "MACH-O"},
	{[]byte("\xce\xfa\xed\xfe"), "MACH-O"},
	{[]byte("\xcf\xfa\xed\xfe"), "MACH-O"},
	{[]byte("MDMP"), "MDMP"},
	{[]byte("{\\rtf"), "RTF"},
	{[]byte("%PDF"), "PDF"},
	{[]byte("GIF8"), "GIF"},
	{[]byte("PK\x03\x04"), "ZIP"},
	{[]byte("Rar!"), "RAR"},
	{[]byte("\xd0\xcf\x11\xe0"), "OLE"},
}

var scriptTypes = map[string]string{
	".asp": "ASP", ".aspx": "ASP", ".php": "PHP", ".vbs": "VBS", ".bat": "BATCH", ".cmd": "BATCH",
	".py": "Python", ".jsp": "JSP", ".ps1": "PowerShell",
}

// fileType names a file's type from its first bytes, then its extension.
func fileType(head []byte, ext string) string {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.prefix) {
			return m.name
		}
	}
	return scriptTypes[ext]
}
