package event

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Reserved field names every event carries.
const (
	FieldTimestamp = "@timestamp"
	FieldID        = "event.id"
	FieldDataset   = "event.dataset"
)

// Datasets made by Lá Chắn's own collectors.
const (
	DatasetYARA      = "yara.finding"
	DatasetOsquery   = "osquery.result"
	DatasetFlow      = "network.flow"
	DatasetDNS       = "network.dns"
	DatasetAlert     = "lachan.alert"
	DatasetHeartbeat = "agent.heartbeat"
)

// MaxFields bounds the fields of one event; MaxValueBytes bounds one string
// value. Both protect the server from a hostile or broken sender.
const (
	MaxFields     = 512
	MaxValueBytes = 64 << 10
)

// Event is one record. Fields holds every field but the three reserved ones,
// under flat dotted names; values are string, int64, float64, bool, or a
// []any / map[string]any of those (arrays of objects such as dns.answers).
type Event struct {
	ID        string
	Timestamp time.Time
	Dataset   string
	Fields    map[string]any
}

// New returns an event born now-ish at ts with a fresh random ID.
func New(dataset string, ts time.Time) Event {
	return Event{ID: NewID(), Timestamp: ts.UTC(), Dataset: dataset, Fields: map[string]any{}}
}

// NewID returns a random, roughly time-ordered ID: 6 bytes of milliseconds
// then 10 random bytes, as 32 hex digits.
func NewID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("event: no randomness: %v", err)) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// DeriveID returns a deterministic ID from its parts, for records whose
// identity is their content (a YARA finding for one file and rule, an
// incident's key), so that importing the same thing twice stores it once.
// Records that happen at a time, and come in numbers, take DeriveTimedID.
func DeriveID(parts ...string) string {
	sum := partsSum(parts)
	return hex.EncodeToString(sum[:16])
}

// partsSum is the SHA-256 of parts, each followed by a zero byte.
func partsSum(parts []string) [sha256.Size]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// DeriveTimedID is DeriveID for a record that happened at ts (an event, a
// flow, an alert on an event): NewID's form, 6 bytes of ts in Unix
// milliseconds and then 10 bytes of the parts' SHA-256, so the same record
// gets the same ID and records of one moment get IDs side by side. A store
// keyed by ID (the embedded store's id/ entries, posting lists and column
// blocks) then takes each batch's IDs as an append near the keys written
// last, as it does for NewID's, instead of one key in every part of the
// key space: IDs that are all hash made the embedded store rewrite its
// whole ID index on every compaction, at about a tenth of the ingest rate
// (docs/decisions.md, "Derived IDs begin with their time").
func DeriveTimedID(ts time.Time, parts ...string) string {
	sum := partsSum(parts)
	var id [32]byte
	return string(AppendTimedID(id[:0], ts, sum[:]))
}

// AppendTimedID appends the ID DeriveTimedID makes of ts and sum, the
// SHA-256 of the parts each followed by a zero byte, for callers that hash
// without allocating.
func AppendTimedID(dst []byte, ts time.Time, sum []byte) []byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(ts.UnixMilli())<<16)
	copy(b[6:], sum[:10])
	return hex.AppendEncode(dst, b[:])
}

// TimedIDTime returns the time leading an ID of AppendTimedID's form, 32
// lower-case hex digits whose first 12 are milliseconds since 1970, and
// false for an ID of any other form. An ID that is all hash has that form
// too, so the time it gives is only a claim.
func TimedIDTime(id string) (time.Time, bool) {
	ms, ok := TimedIDMillis(id)
	if !ok {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

// TimedIDMillis is TimedIDTime as milliseconds since 1970.
func TimedIDMillis(id string) (int64, bool) {
	if len(id) != 32 {
		return 0, false
	}
	var ms int64
	bad := byte(0)
	for i := range 12 {
		d := hexValue[id[i]]
		bad |= d
		ms = ms<<4 | int64(d&0x0f)
	}
	for i := 12; i < 32; i++ {
		bad |= hexValue[id[i]]
	}
	return ms, bad&0xf0 == 0
}

// hexValue is a lower-case hex digit's value, or 0xff for any other byte.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// Get returns a field's value, including the reserved ones.
func (e Event) Get(name string) (any, bool) {
	switch name {
	case FieldID:
		return e.ID, e.ID != ""
	case FieldDataset:
		return e.Dataset, e.Dataset != ""
	case FieldTimestamp:
		return e.Timestamp.Format(time.RFC3339Nano), !e.Timestamp.IsZero()
	}
	v, ok := e.Fields[name]
	return v, ok
}

// String returns a field's value as a string ("" when absent).
func (e Event) String(name string) string {
	v, ok := e.Get(name)
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return fmt.Sprint(x)
	case float64:
		return fmt.Sprint(x)
	case bool:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Int returns a numeric field as int64 (0 when absent or not a number).
func (e Event) Int(name string) int64 {
	switch x := e.Fields[name].(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

// Strings returns a field as a list of strings: a lone string becomes a list
// of one.
func (e Event) Strings(name string) []string {
	switch x := e.Fields[name].(type) {
	case string:
		return []string{x}
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, v := range x {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Set sets a field; a nil value removes it.
func (e *Event) Set(name string, v any) {
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	if v == nil {
		delete(e.Fields, name)
		return
	}
	e.Fields[name] = normalize(v)
}

// Clone returns a copy whose Fields map can be changed without touching e.
func (e Event) Clone() Event {
	c := e
	c.Fields = make(map[string]any, len(e.Fields))
	for k, v := range e.Fields {
		c.Fields[k] = v
	}
	return c
}

// Validate checks an event as a receiver must before it stores it.
func (e Event) Validate() error {
	if err := checkID(e.ID); err != nil {
		return &FieldError{Field: FieldID, Msg: err.Error()}
	}
	return e.ValidateContent()
}

// ValidateContent is Validate without the ID: for a reader that gives an
// event its ID later, and only if the event is kept.
func (e Event) ValidateContent() error {
	if err := e.validateHead(); err != nil {
		return err
	}
	for k, v := range e.Fields {
		if err := checkField(k, v); err != nil {
			return err
		}
	}
	return nil
}

// ValidateFields is ValidateContent for an event whose fields were checked
// one by one with CheckField as they were made, but for those named in
// unchecked: it checks those and what is not a field (time, dataset, the
// number of fields).
func (e Event) ValidateFields(unchecked []string) error {
	if err := e.validateHead(); err != nil {
		return err
	}
	for _, k := range unchecked {
		if v, ok := e.Fields[k]; ok {
			if err := checkField(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e Event) validateHead() error {
	if e.Timestamp.IsZero() {
		return &FieldError{Field: FieldTimestamp, Msg: "missing"}
	}
	if e.Dataset == "" || !validName(e.Dataset) {
		return &FieldError{Field: FieldDataset, Msg: fmt.Sprintf("invalid dataset %q", e.Dataset)}
	}
	if len(e.Fields) > MaxFields {
		return &FieldError{Field: "", Msg: fmt.Sprintf("%d fields, at most %d allowed", len(e.Fields), MaxFields)}
	}
	return nil
}

// MarshalJSON writes the event as one flat JSON object with sorted keys.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 64+48*len(e.Fields)))
}

// UnmarshalJSON decodes strictly: the reserved fields must be present and
// well formed, nested objects are flattened to dotted names, and every error
// names the field it is about. A well-formed line of the usual shape takes
// the Decoder's scanner; anything else (an error among them) takes
// encoding/json, whose results the scanner's equal.
func (e *Event) UnmarshalJSON(data []byte) error {
	var d Decoder
	if ev, ok := d.scan(data); ok {
		*e = ev
		return nil
	}
	return e.unmarshalReflect(data)
}

// unmarshalReflect is UnmarshalJSON through encoding/json.
func (e *Event) unmarshalReflect(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if raw == nil {
		return &FieldError{Msg: "not a JSON object"}
	}
	flat := make(map[string]any, len(raw))
	if err := flatten("", raw, flat, 0); err != nil {
		return err
	}
	var out Event
	ts, ok := flat[FieldTimestamp].(string)
	if !ok {
		return &FieldError{Field: FieldTimestamp, Msg: "missing or not a string"}
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return &FieldError{Field: FieldTimestamp, Msg: fmt.Sprintf("not an RFC 3339 time: %q", ts)}
	}
	out.Timestamp = t.UTC()
	if out.ID, ok = flat[FieldID].(string); !ok {
		return &FieldError{Field: FieldID, Msg: "missing or not a string"}
	}
	if out.Dataset, ok = flat[FieldDataset].(string); !ok {
		return &FieldError{Field: FieldDataset, Msg: "missing or not a string"}
	}
	delete(flat, FieldTimestamp)
	delete(flat, FieldID)
	delete(flat, FieldDataset)
	out.Fields = flat
	if err := out.Validate(); err != nil {
		return err
	}
	*e = out
	return nil
}

func flatten(prefix string, in map[string]any, out map[string]any, depth int) error {
	if depth > 8 {
		return &FieldError{Field: prefix, Msg: "nested too deeply"}
	}
	for k, v := range in {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if m, ok := v.(map[string]any); ok && !keepsObjects(name) {
			if err := flatten(name, m, out, depth+1); err != nil {
				return err
			}
			continue
		}
		if _, dup := out[name]; dup {
			return &FieldError{Field: name, Msg: "given twice (flat and nested)"}
		}
		nv, err := fromJSON(name, v, depth)
		if err != nil {
			return err
		}
		out[name] = nv
	}
	return nil
}

// keepsObjects names fields whose value is an object kept whole: free-form
// maps whose keys are data, not field names (a YARA rule's metadata, the
// fields an alert matched).
func keepsObjects(name string) bool {
	return name == "yara.meta" || name == "lachan.alert.matched"
}

func fromJSON(name string, v any, depth int) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, &FieldError{Field: name, Msg: fmt.Sprintf("bad number %s", x)}
		}
		return f, nil
	case []any:
		if depth > 8 {
			return nil, &FieldError{Field: name, Msg: "nested too deeply"}
		}
		out := make([]any, len(x))
		for i, el := range x {
			nv, err := fromJSON(name, el, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = nv
		}
		return out, nil
	case map[string]any:
		if depth > 8 {
			return nil, &FieldError{Field: name, Msg: "nested too deeply"}
		}
		out := make(map[string]any, len(x))
		for k, el := range x {
			nv, err := fromJSON(name+"."+k, el, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = nv
		}
		return out, nil
	}
	return v, nil
}

// normalize turns Go values callers commonly set into the model's types.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	case uint8:
		return int64(x)
	case float32:
		return float64(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out
	}
	return v
}
