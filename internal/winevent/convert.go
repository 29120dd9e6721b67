package winevent

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"lachan/internal/event"
)

// DatasetPrefix starts the dataset of every Windows event.
const DatasetPrefix = "windows."

// DatasetFor names the dataset of a Windows event log channel: "windows."
// and the channel in lower case, without a leading "Microsoft-Windows-" or
// a trailing "/Operational", "/" becoming "." and any other character
// outside [a-z0-9_-] becoming "_". So Security is windows.security,
// Microsoft-Windows-Sysmon/Operational is windows.sysmon and
// Microsoft-Windows-TaskScheduler/Operational is windows.taskscheduler.
func DatasetFor(channel string) string {
	if ds, ok := knownDatasets[channel]; ok {
		return ds
	}
	return datasetFor(channel)
}

func datasetFor(channel string) string {
	c := strings.ToLower(strings.TrimSpace(channel))
	c = strings.TrimPrefix(c, "microsoft-windows-")
	c = strings.TrimSuffix(c, "/operational")
	var b strings.Builder
	for _, r := range c {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == '/':
			b.WriteByte('.')
		default:
			b.WriteByte('_')
		}
	}
	parts := strings.FieldsFunc(b.String(), func(r rune) bool { return r == '.' })
	if len(parts) == 0 {
		return DatasetPrefix + "unknown"
	}
	return DatasetPrefix + strings.Join(parts, ".")
}

// IsWindowsEvent tells whether a decoded JSON object looks like a Windows
// event in one of the forms Convert reads: nested ({"Event": {"System":
// ...}}), flat or NXLog (EventID and Channel at the top) or Winlogbeat
// (winlog.channel).
func IsWindowsEvent(obj map[string]any) bool {
	if ev, ok := obj["Event"].(map[string]any); ok {
		_, sys := ev["System"].(map[string]any)
		return sys
	}
	if isBeat(obj) {
		return true
	}
	if sys, ok := obj["System"].(map[string]any); ok {
		obj = sys
	}
	_, id := obj["EventID"]
	_, ch := obj["Channel"]
	return id && ch
}

// Convert turns one Windows event into an event.Event. The nested form's
// System members become flat names joined by "_" (Provider_Name,
// TimeCreated_SystemTime, Execution_ProcessID), with EventID as a number;
// EventData and UserData members keep their plain names (CommandLine,
// Image), which is what SigmaHQ rules use. Flat, NXLog and Winlogbeat
// records get the same names (see forms.go); their time is whichever of
// TimeCreated, EventTime or @timestamp they hold. The dataset comes from
// Channel (DatasetFor), spelt as Windows does whatever its case; host.name
// and event.code are set for the rest of the platform.
func Convert(obj map[string]any) (event.Event, error) {
	// Sized for a typical record, since the map becomes the event's.
	fields := make(map[string]any, 32)
	nested, isNested := obj["Event"].(map[string]any)
	switch {
	case isNested:
		if _, ok := nested["System"].(map[string]any); !ok {
			return event.Event{}, fmt.Errorf("windows event: Event.System missing or not an object")
		}
		for k, v := range nested {
			switch k {
			case "System":
				if sys, ok := v.(map[string]any); ok {
					flattenSystem("", sys, fields)
					continue
				}
			case "EventData", "UserData":
				flattenData(v, fields)
				continue
			case "#attributes":
				continue
			}
			flattenSystem("", map[string]any{k: v}, fields)
		}
	case isBeat(obj):
		beatFields(obj, fields)
	default:
		if sys, ok := obj["System"].(map[string]any); ok {
			flattenSystem("", sys, fields)
			rest := make(map[string]any, len(obj))
			for k, v := range obj {
				if k != "System" {
					rest[k] = v
				}
			}
			obj = rest
		}
		flatFields(obj, fields)
	}
	return finish(fields, true, false, nil)
}

// systemValueKeys hold a System member's own value in the renderings we
// read: "#text" (XML to JSON) and "Value" (JSON written by the velocidex evtx library).
var systemValueKeys = map[string]bool{"#text": true, "Value": true}

// flattenSystem flattens System members: attributes become members, and
// an object's "#text" or "Value" is the object's own value.
func flattenSystem(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		name := joinName(prefix, k)
		switch {
		case k == "#attributes":
			name = prefix
		case systemValueKeys[k] && prefix != "":
			name = prefix
		}
		if sub, ok := v.(map[string]any); ok {
			flattenSystem(name, sub, out)
			continue
		}
		if name != "" {
			putValue(out, name, v)
		}
	}
}

func joinName(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "_" + k
}

// flattenData puts EventData or UserData members under their own names.
// UserData wraps its members in one element named for the event, which is
// skipped; unnamed EventData values ("Data": [...]) stay a list named Data.
func flattenData(data any, out map[string]any) {
	m, ok := data.(map[string]any)
	if !ok {
		if data != nil {
			putValue(out, "Data", data)
		}
		return
	}
	for k, v := range m {
		if k == "#attributes" || k == "xmlns" {
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			if named, ok := namedData(x); ok {
				putValue(out, k, named)
				continue
			}
			flattenData(x, out)
		case []any:
			if k == "Data" && dataList(x, out) {
				continue
			}
			putValue(out, k, x)
		default:
			putValue(out, k, x)
		}
	}
}

// namedData returns the text of {"#text": v, "#attributes": ...}.
func namedData(m map[string]any) (any, bool) {
	v, ok := m["#text"]
	return v, ok
}

// dataList handles EventData rendered as a list of
// {"#attributes": {"Name": n}, "#text": v} (XML to JSON) or of
// {"Name": n, "Value": v} (JSON written by the velocidex evtx library, when one of the values is
// null); it reports false for a plain list of unnamed values. A named
// element without a value is the empty string, as Windows renders it.
func dataList(list []any, out map[string]any) bool {
	type pair struct {
		name string
		v    any
	}
	pairs := make([]pair, 0, len(list))
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			return false
		}
		if attrs, ok := m["#attributes"].(map[string]any); ok {
			name, _ := attrs["Name"].(string)
			if name == "" {
				return false
			}
			pairs = append(pairs, pair{name, m["#text"]})
			continue
		}
		name, _ := m["Name"].(string)
		_, hasValue := m["Value"]
		if name == "" || len(m) > 2 || len(m) == 2 && !hasValue {
			return false
		}
		v := m["Value"]
		if v == nil {
			v = ""
		}
		pairs = append(pairs, pair{name, v})
	}
	for _, p := range pairs {
		putValue(out, p.name, p.v)
	}
	return len(pairs) > 0
}

// putValue stores a value under a sanitized field name, turning JSON
// numbers into int64 or float64 and GUIDs into one form (canonicalGUID).
func putValue(out map[string]any, name string, v any) {
	name = fieldName(name)
	if name == "" || v == nil {
		return
	}
	out[name] = value(v, 0)
}

func value(v any, depth int) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil && !math.IsInf(f, 0) {
			return f
		}
		return x.String()
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case []any:
		if depth > 4 {
			return nil
		}
		out := make([]any, 0, len(x))
		for _, el := range x {
			if el = value(el, depth+1); el != nil {
				out = append(out, el)
			}
		}
		return out
	case string:
		if g, ok := canonicalGUID(x); ok {
			return g
		}
		return x
	case map[string]any:
		if depth > 4 {
			return nil
		}
		out := make(map[string]any, len(x))
		for k, el := range x {
			if el = value(el, depth+1); el != nil {
				out[fieldName(k)] = el
			}
		}
		return out
	}
	return v
}

// fieldName replaces the characters the event model does not allow in a
// field name.
func fieldName(s string) string {
	if plainName(s) {
		return s
	}
	s = strings.TrimLeft(s, "#")
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			b[i] = '_'
		}
	}
	return strings.Trim(string(b), ".")
}

// plainName tells whether fieldName would return s unchanged.
func plainName(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// finish builds the event from flat fields: dataset from Channel, time from
// System and, with withID, a deterministic ID so that reading the same log
// twice gives the same events. With checked, the fields were checked as
// they were made (event.CheckField), but for those named in unchecked.
func finish(fields map[string]any, withID, checked bool, unchecked []string) (event.Event, error) {
	channel, text := fields["Channel"].(string)
	if c := canonicalChannel(channel); c != channel || !text {
		// Boxing the channel again costs an allocation a record.
		channel = c
		fields["Channel"] = channel
	}
	if channel == "" {
		return event.Event{}, fmt.Errorf("windows event: no Channel")
	}
	if _, ok := fields["EventID"]; !ok {
		return event.Event{}, fmt.Errorf("windows event: no EventID")
	}
	for _, k := range []string{"EventID", "EventRecordID"} {
		// Winlogbeat 8 writes both as text.
		if id, ok := fields[k].(string); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64); err == nil {
				fields[k] = n
			}
		}
	}
	if kw, ok := fields["Keywords"]; ok {
		fields["Keywords"] = keywords(kw)
	}
	ts, err := eventTime(fields)
	if err != nil {
		return event.Event{}, err
	}
	{
		// One text for every path: renderings give 6, 7 or 9 decimals,
		// some exports seconds. Text already in that form keeps its box.
		var buf [64]byte
		text := ts.AppendFormat(buf[:0], time.RFC3339Nano)
		if old, ok := fields["TimeCreated_SystemTime"].(string); !ok || old != string(text) {
			fields["TimeCreated_SystemTime"] = string(text)
		}
	}
	// The fields become the event's. Values decoded from JSON are of the
	// event model's types already; others (a caller's Go ints) go through
	// Set, in place. Checked fields were made of those types, so only the
	// unchecked ones need the look.
	ev := event.Event{Timestamp: ts, Dataset: DatasetFor(channel), Fields: fields}
	if checked {
		for _, k := range unchecked {
			normalizeField(&ev, k, fields[k])
		}
	} else {
		for k, v := range fields {
			normalizeField(&ev, k, v)
		}
	}
	if cv := fields["Computer"]; cv != nil && cv != "" {
		if _, ok := cv.(string); ok {
			ev.Set("host.name", cv) // the same box
		}
	}
	if id, ok := fields["EventID"].(int64); ok {
		ev.Set("event.code", strconv.FormatInt(id, 10))
	} else {
		ev.Set("event.code", fmt.Sprint(fields["EventID"]))
	}
	if withID {
		// An ID made here is valid by construction.
		ev.ID = eventID(ev)
	}
	if checked {
		err = ev.ValidateFields(unchecked)
		for i := 0; err == nil && i < len(finishSets); i++ {
			if v, ok := fields[finishSets[i]]; ok {
				err = finishChecks[i].Check(v)
			}
		}
	} else {
		err = ev.ValidateContent()
	}
	if err != nil {
		return event.Event{}, fmt.Errorf("windows event: %w", err)
	}
	return ev, nil
}

// normalizeField puts field k's value v, when it is not of the event
// model's types already, through Set.
func normalizeField(ev *event.Event, k string, v any) {
	switch v.(type) {
	case string, int64, float64, bool:
	default:
		ev.Set(k, v)
	}
}

// finishSets names the fields finish sets or changes.
var finishSets = []string{"Channel", "EventID", "EventRecordID", "Keywords", "TimeCreated_SystemTime", "host.name", "event.code"}

// finishChecks are the checks of the fields of finishSets, made once: a
// name's check costs more than a value's.
var finishChecks = func() []event.FieldCheck {
	cs := make([]event.FieldCheck, len(finishSets))
	for i, k := range finishSets {
		cs[i] = event.NewFieldCheck(k)
	}
	return cs
}()

// keywords renders the Keywords bit mask as the hexadecimal string Windows
// tools show, whichever form it arrived in.
func keywords(v any) any {
	switch x := v.(type) {
	case int64:
		return fmt.Sprintf("0x%x", uint64(x))
	case float64:
		if x >= 0 && x < math.MaxUint64 {
			return fmt.Sprintf("0x%x", uint64(x))
		}
	case string:
		// Most arrive as hexadecimal text already; a failed ParseUint
		// allocates its error.
		if !allDigits(x) {
			return v
		}
		if n, err := strconv.ParseUint(x, 10, 64); err == nil {
			return fmt.Sprintf("0x%x", n)
		}
	}
	return v
}

// allDigits tells whether s is all decimal digits, which it must be for
// strconv.ParseUint(s, 10, 64) to take it.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// timeLayouts are the forms of time text exporters write: RFC 3339,
// NXLog's "2006-01-02 15:04:05" (taken as UTC when it has no zone) and
// the same with a zone.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z0700"}

// eventTime finds the event's time: System's TimeCreated (RFC 3339 text,
// or seconds since 1970 from a JSON export), which the flat forms fill
// from EventTime or @timestamp, else Sysmon's UtcTime. It is cut to the
// microsecond: Windows writes 100 ns (seven decimals), exporters six, and
// cutting rather than rounding gives every path the same time.
func eventTime(fields map[string]any) (time.Time, error) {
	for _, k := range []string{"TimeCreated_SystemTime", "SystemTime", "UtcTime"} {
		switch x := fields[k].(type) {
		case string:
			for _, l := range timeLayouts {
				if t, err := time.Parse(l, x); err == nil {
					return t.UTC().Truncate(time.Microsecond), nil
				}
			}
		case float64:
			// Seconds as a float (exporters built on the velocidex evtx
			// library write them so), exact to about a fifth of a
			// microsecond at today's dates.
			sec, frac := math.Modf(x)
			return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), nil
		case int64:
			return time.Unix(x, 0).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("windows event: no time (System.TimeCreated.SystemTime, TimeCreated, EventTime, @timestamp or UtcTime)")
}

// eventID hashes the whole record, so that two records never share an ID
// (a cleared log restarts its record numbers; exports may lack them) while
// reading the same record again, from the .evtx or any export of it, gives
// the same ID. The creation time is left out of the hash, since renderings
// differ in it by a rounding, and HexInt values count as the numbers they
// are; its whole seconds lead the ID.
func eventID(ev event.Event) string {
	ids := idPool.Get().(*idScratch)
	defer idPool.Put(ids)
	// The parts event.DeriveID would hash, each followed by a zero byte,
	// written into one buffer and hashed once.
	b := append(ids.buf[:0], "winlog\x00"...)
	for _, k := range []string{"Computer", "Channel", "EventRecordID"} {
		b = append(appendText(b, ev, k, false), 0)
	}
	// With the names of the last event, each field is looked up once; a
	// name it lacks means other names, which are sorted again.
	n := len(ev.Fields)
	if _, ok := ev.Fields["TimeCreated_SystemTime"]; ok {
		n--
	}
	mark, same := len(b), len(ids.keys) == n && n > 0
	if same {
		for _, k := range ids.keys {
			v, ok := ev.Fields[k]
			if !ok {
				same = false
				break
			}
			b = append(append(b, k...), 0)
			b = append(appendValue(b, ev, k, v, true), 0)
		}
	}
	if !same {
		b = b[:mark]
		keys := ids.keys[:0]
		for k := range ev.Fields {
			if k != "TimeCreated_SystemTime" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		ids.keys = keys
		for _, k := range ids.keys {
			b = append(append(b, k...), 0)
			b = append(appendText(b, ev, k, true), 0)
		}
	}
	ids.buf = b
	sum := sha256.Sum256(b)
	// The time leads the ID (event.DeriveTimedID) in whole seconds, which
	// every rendering of the record agrees on but one that rounds its
	// fraction up across a second.
	var id [32]byte
	return string(event.AppendTimedID(id[:0], ev.Timestamp.Truncate(time.Second), sum[:]))
}

// idScratch is eventID's buffer and the sorted field names of the last
// event it saw: a log's events come in few shapes, so the names of the
// next one are mostly the same and need no sorting.
type idScratch struct {
	buf  []byte
	keys []string
}

var idPool = sync.Pool{New: func() any { return &idScratch{buf: make([]byte, 0, 2048)} }}

// appendText appends ev.String(name), through idValue when asID, without
// formatting strings or integers through fmt.
func appendText(b []byte, ev event.Event, name string, asID bool) []byte {
	return appendValue(b, ev, name, ev.Fields[name], asID)
}

// appendValue is appendText for the value v of ev.Fields[name].
func appendValue(b []byte, ev event.Event, name string, v any, asID bool) []byte {
	if name != event.FieldID && name != event.FieldDataset && name != event.FieldTimestamp {
		switch v := v.(type) {
		case string:
			if asID {
				return appendIDValue(b, v)
			}
			return append(b, v...)
		case int64:
			return strconv.AppendInt(b, v, 10)
		}
	}
	s := ev.String(name)
	if asID {
		s = idValue(s)
	}
	return append(b, s...)
}

// appendIDValue appends idValue(s), without making the text of a HexInt's
// number as a string first.
func appendIDValue(b []byte, s string) []byte {
	if n, ok := hexInt(s); ok {
		return strconv.AppendUint(b, n, 10)
	}
	return append(b, s...)
}

// idValue is how an ID counts the string s: a HexInt ("0x…") as its
// number in decimal, anything else as it is.
func idValue(s string) string {
	if n, ok := hexInt(s); ok {
		return strconv.FormatUint(n, 10)
	}
	return s
}

// hexInt returns the number a HexInt value ("0x" or "0X", then up to 16
// hexadecimal digits) holds.
func hexInt(s string) (uint64, bool) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return 0, false
	}
	n, err := strconv.ParseUint(s[2:], 16, 64)
	return n, err == nil
}
