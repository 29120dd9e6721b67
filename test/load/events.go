package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lachan/detections"
	"lachan/internal/event"
	"lachan/internal/winevent"
	"lachan/server/detect"
	"lachan/test/shareddata"
)

// mix is what a batch is made of: out of every 100 events, Windows events
// (of which every alertEvery-th is a regression event that raises alerts),
// osquery rows, and the rest YARA findings.
type mix struct {
	windows, osquery int
	alertEvery       int
	// ids is how the events' IDs are made (idsSources unless -ids says).
	ids idMode
}

// idMode is how the load generator makes its events' IDs.
type idMode int

const (
	// idsSources makes them as each source does: a Windows record's ID
	// leads with the whole second of its time (winevent's), an osquery
	// row's with its millisecond (event.DeriveTimedID), and a YARA
	// finding's is all hash (event.DeriveID).
	idsSources idMode = iota
	// idsTimed makes every ID lead with its event's millisecond.
	idsTimed
	// idsHashed makes every ID all hash, as agents did before IDs led
	// with the time.
	idsHashed
)

// idModes names the modes for -ids and the summary.
var idModes = map[idMode]string{idsSources: "sources", idsTimed: "timed", idsHashed: "hashed"}

// templates are the events agents send, built once and shared read-only:
// an event is a template with a new ID and time.
type templates struct {
	dense, benign []event.Event // Windows events
	osquery, yara []event.Event
	mix           mix
	// lines are the same events encoded once (see line), as an agent's
	// collectors encode each event once, into its spool, and its
	// shipper only compresses what the spool holds.
	lines struct{ dense, benign, osquery, yara []line }
}

// loadTemplates reads the Windows events of SigmaHQ's regression data
// (nested JSON) under sigmahq/regression_data and makes the other kinds.
// The benign Windows events are those no SigmaHQ rule (sigmahq/rules*)
// matches, as the detection benchmark chooses them.
func loadTemplates(sigmahq string, m mix) (*templates, error) {
	objs, err := regressionEvents(filepath.Join(sigmahq, "regression_data"))
	if err != nil {
		return nil, err
	}
	eng, err := sigmaEngine(sigmahq)
	if err != nil {
		return nil, err
	}
	t := &templates{mix: m, osquery: osqueryRows(), yara: yaraFindings()}
	for _, o := range objs {
		d, err := winevent.Convert(o)
		if err != nil {
			return nil, err
		}
		b, err := winevent.Convert(shareddata.Benign(o))
		if err != nil {
			return nil, err
		}
		t.dense = append(t.dense, d)
		if len(eng.Match(b)) == 0 {
			t.benign = append(t.benign, b)
		}
	}
	if len(t.benign) == 0 {
		return nil, errors.New("every benign Windows event raises an alert")
	}
	return t, t.encode()
}

// sigmaEngine loads every rules* directory under dir.
func sigmaEngine(dir string) (*detect.Engine, error) {
	sources, err := detect.LoadLogSources(detections.FS, detections.LogSourcesFile)
	if err != nil {
		return nil, err
	}
	dirs, _ := filepath.Glob(filepath.Join(dir, "rules*"))
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no SigmaHQ rules* directories under %s", dir)
	}
	var rd []detect.RuleDir
	for _, d := range dirs {
		rd = append(rd, detect.RuleDir{FS: os.DirFS(d), Root: ".", Name: d})
	}
	eng, _ := detect.LoadDirs(rd, sources, detect.DefaultConfig())
	return eng, nil
}

// regressionEvents returns the Windows events of the regression data
// under dir.
func regressionEvents(dir string) ([]map[string]any, error) {
	objs, err := shareddata.RegressionEvents(dir)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, obj := range objs {
		if winevent.IsWindowsEvent(obj) {
			out = append(out, obj)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no Windows events under %s", dir)
	}
	return out, nil
}

// osqueryRows are snapshot rows of the agent's default pack's kind.
func osqueryRows() []event.Event {
	rows := []struct {
		name string
		cols map[string]string
	}{
		{"listening_ports", map[string]string{"pid": "1184", "port": "445", "protocol": "6", "family": "2", "address": "0.0.0.0", "path": `C:\Windows\System32\svchost.exe`}},
		{"programs", map[string]string{"name": "Microsoft Office Professional Plus 2016", "version": "16.0.4266.1001", "publisher": "Microsoft Corporation", "install_location": `C:\Program Files\Microsoft Office`}},
		{"startup_items", map[string]string{"name": "OneDrive", "path": `C:\Users\nguyenvana\AppData\Local\Microsoft\OneDrive\OneDrive.exe /background`, "source": `HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001\Software\Microsoft\Windows\CurrentVersion\Run`, "status": "enabled", "username": "nguyenvana"}},
		{"logged_in_users", map[string]string{"type": "active", "user": "nguyenvana", "tty": "console", "host": "", "time": "1764748800", "pid": "7312"}},
		{"processes", map[string]string{"pid": "7312", "name": "explorer.exe", "path": `C:\Windows\explorer.exe`, "cmdline": `C:\Windows\Explorer.EXE`, "parent": "7280", "uid": "-1", "on_disk": "1", "resident_size": "98304000"}},
	}
	var out []event.Event
	for _, r := range rows {
		ev := event.New(event.DatasetOsquery, time.Now())
		ev.Set("event.kind", "state")
		ev.Set("osquery.name", "pack_lachan_"+r.name)
		ev.Set("osquery.action", "snapshot")
		for k, v := range r.cols {
			ev.Set("osquery.columns."+k, v)
		}
		out = append(out, ev)
	}
	return out
}

// yaraFindings are file findings as the agent's scanner reports them.
func yaraFindings() []event.Event {
	fs := []struct{ rule, ns, path, sha string }{
		{"EICAR_Test_File", "lachan", `C:\Users\nguyenvana\Downloads\eicar.com`, "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
		{"HKTL_Mimikatz_Strings", "signature-base", `C:\Users\Public\Documents\m64.exe`, "61c0810a23580cf492a6ba4f7654566108331e7a4134c968c2d6a05261b2d8a1"},
		{"SUSP_PS1_Obfuscated", "signature-base", `C:\Users\nguyenvana\AppData\Local\Temp\update.ps1`, "0a7f9d1c4e2b8f3a6d5c1e9b7a2f4c8d3e6b1a9f5c2d7e4b8a1f6c3d9e2b5a7f"},
	}
	var out []event.Event
	for _, f := range fs {
		ev := event.New(event.DatasetYARA, time.Now())
		ev.Set("event.kind", "event")
		ev.Set("event.category", []string{"malware", "file"})
		ev.Set("yara.rule", f.rule)
		ev.Set("yara.namespace", f.ns)
		ev.Set("yara.tags", []string{})
		ev.Set("yara.meta", map[string]any{"author": "lachan", "score": int64(70)})
		ev.Set("file.path", f.path)
		ev.Set("file.name", filepath.Base(strings.ReplaceAll(f.path, `\`, "/")))
		ev.Set("file.extension", strings.TrimPrefix(filepath.Ext(f.path), "."))
		ev.Set("file.size", int64(68))
		ev.Set("file.hash.sha256", f.sha)
		out = append(out, ev)
	}
	return out
}

// pick returns the pre-encoded template of an agent's n-th event.
func (t *templates) pick(n uint64) *line {
	k := int(n % 100)
	switch {
	case k < t.mix.windows:
		w := n/100*uint64(t.mix.windows) + uint64(k) // the agent's w-th Windows event
		if a := uint64(t.mix.alertEvery); a > 0 && w%a == 0 {
			return &t.lines.dense[int(w/a)%len(t.lines.dense)]
		}
		return &t.lines.benign[int(w)%len(t.lines.benign)]
	case k < t.mix.windows+t.mix.osquery:
		return &t.lines.osquery[(int(n/100)+k)%len(t.lines.osquery)]
	default:
		return &t.lines.yara[(int(n/100)+k)%len(t.lines.yara)]
	}
}
