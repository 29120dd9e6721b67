package detect

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"lachan/internal/event"
)

// alertKey names a field an alert of a single event can carry. The
// constants are in byte order of their names, the order in which
// event.AppendJSON writes fields, so an alert is written by walking them.
type alertKey uint8

const (
	kAgentID alertKey = iota
	kDestinationIP
	kEventCode
	kEventKind // with event.severity: the rule's, written as one piece
	kFileHashSHA256
	kFilePath
	kHostID
	kHostIP
	kHostName
	kMatched // lachan.alert.matched and matched_fields
	kSourceIDs
	kSourceTimes
	kUnit
	kLogFilePath
	kProcessCommandLine
	kProcessEntityID
	kProcessExecutable
	kProcessName
	kParentCommandLine
	kParentEntityID
	kParentExecutable
	kParentName
	kParentPID
	kProcessPID
	kRule // rule.description, rule.id, rule.level, rule.name
	kSourceIP
	kTags // tags and threat.*
	kUserDomain
	kUserID
	kUserName
	kUserTargetName
	kWinlogChannel
	kWinlogComputerName
	kWinlogProviderName
	kWinlogRecordID
	numAlertKeys
)

// alertKeyNames are the field names of the keys that hold one value.
var alertKeyNames = [numAlertKeys]string{
	kAgentID: "agent.id", kDestinationIP: "destination.ip", kEventCode: "event.code",
	kFileHashSHA256: "file.hash.sha256", kFilePath: "file.path",
	kHostID: "host.id", kHostIP: "host.ip", kHostName: "host.name",
	kSourceIDs: "lachan.alert.source_ids", kSourceTimes: "lachan.alert.source_times",
	kUnit: "lachan.unit", kLogFilePath: "log.file.path",
	kProcessCommandLine: "process.command_line", kProcessEntityID: "process.entity_id",
	kProcessExecutable: "process.executable", kProcessName: "process.name",
	kParentCommandLine: "process.parent.command_line", kParentEntityID: "process.parent.entity_id",
	kParentExecutable: "process.parent.executable", kParentName: "process.parent.name",
	kParentPID: "process.parent.pid", kProcessPID: "process.pid",
	kSourceIP: "source.ip", kUserDomain: "user.domain", kUserID: "user.id",
	kUserName: "user.name", kUserTargetName: "user.target.name",
	kWinlogChannel: "winlog.channel", kWinlogComputerName: "winlog.computer_name",
	kWinlogProviderName: "winlog.provider_name", kWinlogRecordID: "winlog.record_id",
}

// alertKeyMembers are the JSON of the names of alertKeyNames, as an
// alert's members start: a comma, the name and a colon.
var alertKeyMembers = func() (ms [numAlertKeys][]byte) {
	for k, name := range alertKeyNames {
		if name != "" {
			ms[k] = append(event.AppendString([]byte(","), name), ':')
		}
	}
	return ms
}()

// alertKeyOf maps the field names of winContext and contextFields to keys.
var alertKeyOf = func() map[string]alertKey {
	m := make(map[string]alertKey, numAlertKeys)
	for k, name := range alertKeyNames {
		if name != "" {
			m[name] = alertKey(k)
		}
	}
	return m
}()

// winContextKeys and contextKeys are winContext and contextFields by key.
var (
	winContextKeys = func() []alertKey {
		ks := make([]alertKey, len(winContext))
		for i, c := range winContext {
			ks[i] = alertKeyOf[c.ecs]
		}
		return ks
	}()
	contextKeys = func() []alertKey {
		ks := make([]alertKey, len(contextFields))
		for i, f := range contextFields {
			ks[i] = alertKeyOf[f]
		}
		return ks
	}()
)

// alertMeta is what every alert of a rule says about it, encoded once
// when the rule is loaded: the JSON members "event.kind" and
// "event.severity"; "rule.*"; "tags" and "threat.*" (empty without tags).
type alertMeta struct {
	event, rule, threat []byte
}

func newAlertMeta(r *Rule) *alertMeta {
	spec := AlertSpec{RuleID: r.ID, RuleName: r.Title, Level: r.Level, Description: r.Description, Tags: r.Tags}
	base := spec.Base("", time.Time{})
	m := &alertMeta{}
	members := func(names ...string) []byte {
		var b []byte
		for _, n := range names {
			v, ok := base.Fields[n]
			if !ok {
				continue
			}
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = append(event.AppendString(b, n), ':')
			b, _ = event.AppendValue(b, v) // strings and int64 only
		}
		return b
	}
	m.event = members("event.kind", "event.severity")
	m.rule = members("rule.description", "rule.id", "rule.level", "rule.name")
	m.threat = members("tags", "threat.framework", "threat.tactic.id", "threat.tactic.name", "threat.technique.id", "threat.technique.name")
	return m
}

// slot is one field of an alert being written: a string, an integer to
// be written as text, or a value of the event.
type slot struct {
	kind uint8
	s    string
	n    int64
	v    any
}

const (
	slotNone uint8 = iota
	slotString
	slotIntText
	slotValue
)

// AlertEncoder writes the JSON object of the alert a match raises, the
// bytes Match.Alert(ev).AppendJSON would give, without building the alert
// as an event: no maps, no copies of the event, the rule's own members
// encoded once at load, and the event's own members (its time, ID and
// context) encoded once per event however many alerts it raises. The zero
// value is ready to use; an AlertEncoder is not safe for concurrent use.
type AlertEncoder struct {
	f [numAlertKeys]slot
	// names are where appendMatched wrote the JSON of each matched
	// field's name.
	names [][2]int
	id    []byte
	// of and at are the ID and time of the event whose context f and
	// ctx hold (of is "" for none).
	of string
	at time.Time
	// ctx holds the JSON of the event's part of its alerts, in the
	// pieces parts names; errAt is the piece whose encoding failed with
	// err (numParts for none), which an alert reports where it reaches it.
	ctx   []byte
	parts [numParts]int
	errAt int
	err   error
	// known are the longer string values ctx holds, by where their JSON
	// lies in it: the fields a match found are mostly the event's context
	// again (a command line, an image), copied rather than encoded again.
	known []knownString
}

// knownString is a string value (its bytes p and length n) whose JSON is
// ctx[lo:hi].
type knownString struct {
	p         *byte
	n, lo, hi int
}

// minKnown is the length from which a string value is remembered in
// known: shorter ones cost less to encode than to look up.
const minKnown = 16

// The pieces of an alert that come from its event, in the order they are
// written; between them go the alert's ID, the rule's members and the
// fields the match found.
const (
	partHead     = iota // {"@timestamp":…,"event.id":"  (the alert's ID follows)
	partCode            // members before event.kind
	partHost            // members between event.severity and lachan.alert.matched
	partProcess         // source IDs and times, members up to rule.*
	partSourceIP        // members between rule.* and tags
	partWinlog          // members after threat.*, and the closing brace
	numParts
)

// Append appends the alert of m on ev to b and returns it; b is the
// caller's, the encoder keeps nothing of it.
func (enc *AlertEncoder) Append(b []byte, m Match, ev event.Event) ([]byte, error) {
	enc.context(ev)
	return enc.appendAlert(b, m, ev)
}

// AppendNext is Append for another match on the event of the previous
// call: what an alert takes from the event (its time and ID, its context
// fields, a Windows event's process and user) is not gathered and encoded
// again. It is when ev's ID or time is not that event's, or the ID is
// empty.
func (enc *AlertEncoder) AppendNext(b []byte, m Match, ev event.Event) ([]byte, error) {
	if ev.ID == "" || ev.ID != enc.of || !ev.Timestamp.Equal(enc.at) {
		enc.context(ev)
	}
	return enc.appendAlert(b, m, ev)
}

// context gathers what an alert takes from ev into f and encodes it into
// ctx.
func (enc *AlertEncoder) context(ev event.Event) {
	enc.f = [numAlertKeys]slot{}
	enc.of, enc.at = ev.ID, ev.Timestamp
	if strings.HasPrefix(ev.Dataset, "windows.") {
		enc.windowsContext(ev)
	}
	for i, f := range contextFields {
		if v, ok := ev.Fields[f]; ok && v != nil {
			enc.f[contextKeys[i]] = slot{kind: slotValue, v: v}
		}
	}
	enc.encodeContext(ev)
}

// encodeContext encodes the event's pieces of its alerts into ctx.
func (enc *AlertEncoder) encodeContext(ev event.Event) {
	enc.errAt, enc.err = numParts, nil
	enc.known = enc.known[:0]
	b := append(enc.ctx[:0], `{"@timestamp":"`...)
	tlo := len(b)
	b = ev.Timestamp.UTC().AppendFormat(b, time.RFC3339Nano)
	thi := len(b)
	b = append(b, `","event.dataset":"`+event.DatasetAlert+`","event.id":"`...)
	part := partHead
	enc.parts[part] = len(b)
	defer func() { enc.ctx = b }()
	for k := alertKey(0); k < numAlertKeys; k++ {
		switch k {
		case kEventKind, kMatched, kRule, kTags:
			part++
			enc.parts[part] = len(b)
			continue
		case kSourceIDs:
			b = append(b, `,"lachan.alert.source_ids":[`...)
			b = append(event.AppendString(b, ev.ID), ']')
			continue
		case kSourceTimes:
			b = append(b, `,"lachan.alert.source_times":["`...)
			b = append(append(b, b[tlo:thi]...), `"]`...) // the time formatted above
			continue
		}
		s := &enc.f[k]
		if s.kind == slotNone {
			continue
		}
		b = append(b, alertKeyMembers[k]...)
		switch s.kind {
		case slotString:
			b = enc.appendKnown(b, s.s)
		case slotIntText:
			b = append(strconv.AppendInt(append(b, '"'), s.n, 10), '"')
		default:
			if str, ok := s.v.(string); ok {
				b = enc.appendKnown(b, str)
				break
			}
			var err error
			if b, err = event.AppendValue(b, s.v); err != nil {
				enc.errAt, enc.err = part+1, fieldError(alertKeyNames[k], err)
				return
			}
		}
	}
	b = append(b, '}')
	part++
	enc.parts[part] = len(b)
}

// appendKnown appends the JSON string of s to b, which is ctx being
// built, and remembers where it lies when s is long enough to be worth it.
func (enc *AlertEncoder) appendKnown(b []byte, s string) []byte {
	lo := len(b)
	b = event.AppendString(b, s)
	if len(s) >= minKnown {
		enc.known = append(enc.known, knownString{unsafe.StringData(s), len(s), lo, len(b)})
	}
	return b
}

// appendValue appends the JSON of v, copied from ctx when it is a string
// the event's pieces hold.
func (enc *AlertEncoder) appendValue(b []byte, v any) ([]byte, error) {
	if s, ok := v.(string); ok && len(s) >= minKnown {
		// The same bytes give the same JSON; the event's values do not
		// change while its alerts are written.
		p := unsafe.StringData(s)
		for _, k := range enc.known {
			if k.p == p && k.n == len(s) {
				return append(b, enc.ctx[k.lo:k.hi]...), nil
			}
		}
	}
	return event.AppendValue(b, v)
}

// piece appends the event's piece i of its alerts to b; ok is false when
// encoding it failed (enc.err).
func (enc *AlertEncoder) piece(b []byte, i int) (_ []byte, ok bool) {
	if i >= enc.errAt {
		return b, false
	}
	lo := 0
	if i > 0 {
		lo = enc.parts[i-1]
	}
	return append(b, enc.ctx[lo:enc.parts[i]]...), true
}

// appendAlert appends the alert of m on the event whose pieces ctx holds.
func (enc *AlertEncoder) appendAlert(b []byte, m Match, ev event.Event) ([]byte, error) {
	r := m.Rule
	meta := r.alert
	if meta == nil {
		meta = newAlertMeta(r)
	}
	var ok bool
	if b, ok = enc.piece(b, partHead); !ok {
		return nil, enc.err
	}
	b = enc.appendAlertID(b, r.ID, ev)
	b = append(b, '"')
	if b, ok = enc.piece(b, partCode); !ok {
		return nil, enc.err
	}
	b = append(append(b, ','), meta.event...)
	if b, ok = enc.piece(b, partHost); !ok {
		return nil, enc.err
	}
	var err error
	if b, err = enc.appendMatched(b, m.Fields); err != nil {
		return nil, err
	}
	if b, ok = enc.piece(b, partProcess); !ok {
		return nil, enc.err
	}
	b = append(append(b, ','), meta.rule...)
	if b, ok = enc.piece(b, partSourceIP); !ok {
		return nil, enc.err
	}
	if len(meta.threat) > 0 {
		b = append(append(b, ','), meta.threat...)
	}
	if b, ok = enc.piece(b, partWinlog); !ok {
		return nil, enc.err
	}
	return b, nil
}

// appendAlertID appends event.DeriveTimedID(ev's time, "alert", ruleID,
// ev's ID), hashed from a reused buffer.
func (enc *AlertEncoder) appendAlertID(b []byte, ruleID string, ev event.Event) []byte {
	in := append(enc.id[:0], "alert\x00"...)
	in = append(append(in, ruleID...), 0)
	in = append(append(in, ev.ID...), 0)
	sum := sha256.Sum256(in)
	enc.id = in
	return event.AppendTimedID(b, ev.Timestamp, sum[:])
}

// appendMatched writes lachan.alert.matched and, when a field matched,
// lachan.alert.matched_fields.
func (enc *AlertEncoder) appendMatched(b []byte, matched MatchedFields) ([]byte, error) {
	b = append(b, `,"lachan.alert.matched":{`...)
	// Each name is encoded once and copied into matched_fields.
	names := enc.names[:0]
	var err error
	for i, f := range matched {
		if i > 0 {
			b = append(b, ',')
		}
		lo := len(b)
		b = event.AppendString(b, f.Name)
		names = append(names, [2]int{lo, len(b)})
		b = append(b, ':')
		if b, err = enc.appendValue(b, f.Value); err != nil {
			return nil, fieldError("lachan.alert.matched", err)
		}
	}
	enc.names = names
	b = append(b, '}')
	if len(matched) == 0 {
		return b, nil
	}
	b = append(b, `,"lachan.alert.matched_fields":[`...)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, b[n[0]:n[1]]...)
	}
	return append(b, ']'), nil
}

// windowsContext fills the slots setWindowsContext sets on an alert.
func (enc *AlertEncoder) windowsContext(ev event.Event) {
	newName := fieldText(ev, "NewProcessName")
	for i, c := range winContext {
		k := winContextKeys[i]
		for _, f := range c.from {
			raw := ev.Fields[f]
			v := valueText(ev, f, raw)
			if v == "" || v == "-" {
				continue
			}
			if f == "ProcessId" && newName != "" && fieldText(ev, "NewProcessId") == "" {
				continue
			}
			switch {
			case k != kWinlogRecordID && k != kEventCode:
				enc.f[k] = slot{kind: slotValue, v: raw}
			case isInt(raw):
				enc.f[k] = slot{kind: slotIntText, n: raw.(int64)}
			default:
				enc.f[k] = slot{kind: slotString, s: v}
			}
			break
		}
	}
	if newName != "" {
		if v := fieldText(ev, "ProcessId"); v != "" {
			enc.setText(kParentPID, ev.Fields["ProcessId"], v)
		}
	} else if v, ok := ev.Fields["ParentProcessId"]; ok {
		enc.f[kParentPID] = slot{}
		if v != nil {
			enc.f[kParentPID] = slot{kind: slotValue, v: v}
		}
	}
	if name := enc.text(kUserName); strings.Contains(name, `\`) && enc.text(kUserDomain) == "" {
		dom, user, _ := strings.Cut(name, `\`)
		enc.f[kUserDomain] = slot{kind: slotString, s: dom}
		enc.f[kUserName] = slot{kind: slotString, s: user}
	}
	for _, k := range [][2]alertKey{{kProcessExecutable, kProcessName}, {kParentExecutable, kParentName}} {
		if p := enc.text(k[0]); p != "" {
			enc.f[k[1]] = slot{kind: slotString, s: p[strings.LastIndexAny(p, `\/`)+1:]}
		}
	}
	if enc.text(kFilePath) != "" {
		if ot := fieldText(ev, "ObjectType"); ot != "" && ot != "File" {
			enc.f[kFilePath] = slot{}
		}
	}
}

// setText sets k to the text v of the event value raw, without formatting
// an integer into a new string.
func (enc *AlertEncoder) setText(k alertKey, raw any, v string) {
	if isInt(raw) {
		enc.f[k] = slot{kind: slotIntText, n: raw.(int64)}
		return
	}
	enc.f[k] = slot{kind: slotString, s: v}
}

// text is the alert field's value as Event.String gives it.
func (enc *AlertEncoder) text(k alertKey) string {
	s := enc.f[k]
	switch s.kind {
	case slotString:
		return s.s
	case slotIntText:
		return strconv.FormatInt(s.n, 10)
	case slotValue:
		if str, ok := s.v.(string); ok {
			return str
		}
		return event.Event{Fields: map[string]any{"v": s.v}}.String("v")
	}
	return ""
}

// fieldText is ev.String(name) without formatting integers: any integer
// stands for itself as a non-empty text that is not "-", which is all the
// callers ask of it, except where they use the text (see setText).
func fieldText(ev event.Event, name string) string {
	return valueText(ev, name, ev.Fields[name])
}

// valueText is fieldText of the field name whose value is raw.
func valueText(ev event.Event, name string, raw any) string {
	switch v := raw.(type) {
	case string:
		return v
	case int64:
		return "0" // non-empty, not "-"; the value is taken from the field
	case nil:
		return ""
	}
	return ev.String(name)
}

func isInt(v any) bool { _, ok := v.(int64); return ok }

type encodeError struct {
	field string
	err   error
}

func (e *encodeError) Error() string { return "field " + e.field + ": " + e.err.Error() }
func (e *encodeError) Unwrap() error { return e.err }

func fieldError(field string, err error) error { return &encodeError{field, err} }
