package pipeline

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"lachan/internal/event"
	"lachan/internal/winevent"
)

// Rows of osquery's evented tables are the same telemetry the agent's
// own collectors send, so they are stored as such: a process_events row
// becomes a linux.process event with the fields of the native collector,
// socket_events linux.network, file_events linux.file, and a
// windows_events row the windows.<channel> event that internal/winevent
// makes of the record — and the same Sigma rule fires on either. A row is
// taken for an evented table's by its query's name: the table's name, or
// ending in "_" and the table's name (osquery names a pack's queries
// pack_<pack>_<query>), as the agent's telemetry pack names them.

// evented is each evented table and its mapping.
var evented = []struct {
	table string
	conv  func(cols map[string]string, ev *event.Event) error
}{
	{"process_events", osqueryProcess},
	{"socket_events", osquerySocket},
	{"file_events", osqueryFile},
	{"windows_events", osqueryWindows},
}

// FromOsquery maps an osquery result row of an evented table onto the
// dataset and fields of the matching native telemetry; ok is false for
// any other row, which stays as it is. The row's ID, made by the agent,
// is kept, so a row sent twice is stored once.
func FromOsquery(ev event.Event) (out event.Event, ok bool, err error) {
	if ev.Dataset != event.DatasetOsquery || ev.String("osquery.action") != "added" {
		return ev, false, nil
	}
	name := ev.String("osquery.name")
	for _, e := range evented {
		if name != e.table && !strings.HasSuffix(name, "_"+e.table) && !strings.HasSuffix(name, "/"+e.table) {
			continue
		}
		cols := map[string]string{}
		for k, v := range ev.Fields {
			if c, ok := strings.CutPrefix(k, "osquery.columns."); ok {
				if s, ok := v.(string); ok {
					cols[c] = s
				}
			}
		}
		out = event.Event{ID: ev.ID, Timestamp: ev.Timestamp, Fields: map[string]any{}}
		if err := e.conv(cols, &out); err != nil {
			return ev, false, fmt.Errorf("osquery %s row %s: %w", e.table, ev.ID, err)
		}
		if t, err := strconv.ParseInt(cols["time"], 10, 64); err == nil && t > 0 {
			out.Timestamp = time.Unix(t, 0).UTC()
		}
		out.Set("event.provider", "osquery")
		out.Set("osquery.name", name)
		return out, true, nil
	}
	return ev, false, nil
}

func need(cols map[string]string, names ...string) error {
	for _, n := range names {
		if cols[n] == "" {
			return fmt.Errorf("column %s missing", n)
		}
	}
	return nil
}

func setCol(ev *event.Event, field string, cols map[string]string, col string) {
	if v := cols[col]; v != "" {
		ev.Set(field, v)
	}
}

func setInt(ev *event.Event, field string, cols map[string]string, col string) {
	if n, err := strconv.ParseInt(cols[col], 10, 64); err == nil {
		ev.Set(field, n)
	}
}

// osqueryProcess maps process_events (the audit-based table: pid, path,
// cmdline, cwd, uid, euid, auid, parent), with the columns the agent's
// query joins in: username, parent_path, parent_cmdline.
func osqueryProcess(cols map[string]string, ev *event.Event) error {
	if err := need(cols, "pid", "path"); err != nil {
		return err
	}
	ev.Dataset = "linux.process"
	ev.Set("event.kind", "event")
	ev.Set("event.category", "process")
	ev.Set("event.type", "start")
	ev.Set("event.action", "exec")
	setInt(ev, "process.pid", cols, "pid")
	setCol(ev, "process.executable", cols, "path")
	ev.Set("process.name", path.Base(cols["path"]))
	setCol(ev, "process.command_line", cols, "cmdline")
	setCol(ev, "process.working_directory", cols, "cwd")
	if uid := cols["uid"]; uid != "" {
		ev.Set("user.id", uid)
		ev.Set("process.user.id", uid)
		if e := cols["euid"]; e != "" && e != uid {
			ev.Set("user.effective.id", e)
		}
	}
	setCol(ev, "user.name", cols, "username")
	// 4294967295 is the audit login ID of a process no login started.
	if a := cols["auid"]; a != "" && a != "4294967295" {
		ev.Set("user.audit.id", a)
	}
	setInt(ev, "process.parent.pid", cols, "parent")
	setCol(ev, "process.parent.executable", cols, "parent_path")
	setCol(ev, "process.parent.command_line", cols, "parent_cmdline")
	return nil
}

// osquerySocket maps socket_events: connect (an outbound connection),
// accept, and bind (a socket taking a port: listen in native terms).
func osquerySocket(cols map[string]string, ev *event.Event) error {
	if err := need(cols, "action"); err != nil {
		return err
	}
	ev.Dataset = "linux.network"
	ev.Set("event.kind", "event")
	ev.Set("event.category", "network")
	switch cols["protocol"] {
	case "17":
		ev.Set("network.transport", "udp")
	default:
		ev.Set("network.transport", "tcp")
	}
	ev.Set("network.type", "ipv4")
	if cols["family"] == "10" {
		ev.Set("network.type", "ipv6")
	}
	setCol(ev, "source.ip", cols, "local_address")
	setInt(ev, "source.port", cols, "local_port")
	switch a := cols["action"]; a {
	case "connect":
		ev.Set("event.action", "connect")
		ev.Set("event.type", "connection")
		ev.Set("network.direction", "egress")
		ev.Set("network.initiated", "true")
		setCol(ev, "destination.ip", cols, "remote_address")
		setInt(ev, "destination.port", cols, "remote_port")
	case "accept":
		ev.Set("event.action", "accept")
		ev.Set("event.type", "connection")
		ev.Set("network.direction", "ingress")
		ev.Set("network.initiated", "false")
		setCol(ev, "destination.ip", cols, "remote_address")
		setInt(ev, "destination.port", cols, "remote_port")
	case "bind":
		ev.Set("event.action", "listen")
		ev.Set("event.type", "start")
	default:
		return fmt.Errorf("socket action %q", a)
	}
	setInt(ev, "process.pid", cols, "pid")
	if p := cols["path"]; p != "" {
		ev.Set("process.executable", p)
		ev.Set("process.name", path.Base(p))
	}
	if uid := cols["auid"]; uid != "" && uid != "4294967295" {
		ev.Set("user.audit.id", uid)
	}
	return nil
}

// fileActions are file_events' actions in the native collector's words.
var fileActions = map[string][2]string{
	"CREATED":  {"creation", "creation"},
	"UPDATED":  {"change", "change"},
	"DELETED":  {"deletion", "deletion"},
	"MOVED_TO": {"rename", "change"}, "MOVED_FROM": {"rename", "change"},
}

// osqueryFile maps file_events (inotify on the configured file_paths).
func osqueryFile(cols map[string]string, ev *event.Event) error {
	if err := need(cols, "target_path", "action"); err != nil {
		return err
	}
	a, ok := fileActions[cols["action"]]
	if !ok {
		return fmt.Errorf("file action %q", cols["action"])
	}
	ev.Dataset = "linux.file"
	ev.Set("event.kind", "event")
	ev.Set("event.category", "file")
	ev.Set("event.action", a[0])
	ev.Set("event.type", a[1])
	p := cols["target_path"]
	ev.Set("file.path", p)
	ev.Set("file.name", path.Base(p))
	ev.Set("file.directory", path.Dir(p))
	setCol(ev, "file.hash.sha256", cols, "sha256")
	return nil
}

// osqueryWindows maps windows_events: its columns are the record's System
// members and, in data, its EventData as JSON; they are laid out as the
// nested form of the record and converted as every Windows event is.
func osqueryWindows(cols map[string]string, ev *event.Event) error {
	if err := need(cols, "source", "eventid"); err != nil {
		return err
	}
	sys := map[string]any{
		"Channel":  cols["source"],
		"EventID":  winevent.TextValue(cols["eventid"]),
		"Computer": cols["computer_name"],
		"Provider": map[string]any{"#attributes": map[string]any{"Name": cols["provider_name"], "Guid": cols["provider_guid"]}},
	}
	for col, member := range map[string]string{"task": "Task", "level": "Level", "keywords": "Keywords"} {
		if v := cols[col]; v != "" {
			sys[member] = winevent.TextValue(v)
		}
	}
	if t := cols["datetime"]; t != "" {
		sys["TimeCreated"] = map[string]any{"#attributes": map[string]any{"SystemTime": t}}
	}
	rec := map[string]any{"System": sys}
	if d := cols["data"]; d != "" {
		var data map[string]any
		if err := json.Unmarshal([]byte(d), &data); err != nil {
			return fmt.Errorf("data column: %w", err)
		}
		// osquery nests the members under EventData.
		if inner, ok := data["EventData"].(map[string]any); ok {
			data = inner
		}
		for k, v := range data {
			if s, ok := v.(string); ok {
				data[k] = winevent.TextValue(s)
			}
		}
		rec["EventData"] = data
	}
	conv, err := winevent.Convert(map[string]any{"Event": rec})
	if err != nil {
		return err
	}
	ev.Dataset, ev.Fields = conv.Dataset, conv.Fields
	if !conv.Timestamp.IsZero() {
		ev.Timestamp = conv.Timestamp
	}
	return nil
}

// fromOsquery replaces an evented table's row with its telemetry event;
// a row that does not map is kept as it came, and why is logged.
func (p *Pipeline) fromOsquery(ev *event.Event) {
	out, ok, err := FromOsquery(*ev)
	if err != nil {
		p.log.Warn("osquery row kept as it came", "err", err)
		return
	}
	if ok {
		*ev = out
	}
}
