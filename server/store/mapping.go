package store

import (
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"

	"lachan/internal/event"
)

// FieldType is the stored type of an event field, shared by every engine:
// the embedded engine checks events against it, and the Elasticsearch
// engine also turns it into its index templates.
type FieldType string

// The field types. Fields not in a Mapping are stored as they come
// (Elasticsearch maps unknown strings to keyword).
const (
	// TypeKeyword: an exact string (numbers and booleans are kept as their
	// text), searched by term, wildcard and range.
	TypeKeyword FieldType = "keyword"
	// TypeText: free text, tokenised for full-text search, with an exact
	// keyword sub-field for terms, wildcards and the hunting language.
	TypeText FieldType = "text"
	// TypeIP: an IPv4 or IPv6 address without a zone.
	TypeIP FieldType = "ip"
	// TypeLong: a whole number (see Field.Min and Field.Max).
	TypeLong FieldType = "long"
	// TypeDouble: any number.
	TypeDouble FieldType = "double"
	// TypeBoolean: true or false.
	TypeBoolean FieldType = "boolean"
	// TypeDate: an RFC 3339 time string.
	TypeDate FieldType = "date"
	// TypeObject: a free-form object kept whole, or a list of them, whose
	// keys are data rather than field names (yara.meta, dns.answers);
	// Elasticsearch stores it as a flattened field.
	TypeObject FieldType = "object"
)

// Field is the mapping of one field.
type Field struct {
	Type FieldType `json:"type"`
	// Min and Max bound a TypeLong field, inclusive, when Bounded.
	Min, Max int64
	Bounded  bool
}

// Mapping is the event field mapping shared by the engines. Make one with
// DefaultMapping or NewMapping.
type Mapping struct {
	// Fields maps flat dotted names to their types.
	Fields map[string]Field
	// Prefixes give the type of every field under a dotted prefix that ends
	// with a dot ("osquery.columns."): names there are data (an osquery
	// column), so one type for all keeps them from clashing.
	Prefixes map[string]FieldType

	// parents holds every proper dotted prefix of a mapped name: such a
	// name is an object and cannot hold a value itself.
	parents map[string]bool
}

// MappingError says which field of an event does not fit the mapping.
type MappingError struct {
	Field  string
	Reason string
}

func (e *MappingError) Error() string {
	return fmt.Sprintf("field %s: %s", e.Field, e.Reason)
}

// NewMapping returns a mapping of these fields and prefixes.
func NewMapping(fields map[string]Field, prefixes map[string]FieldType) Mapping {
	m := Mapping{Fields: fields, Prefixes: prefixes}
	m.parents = m.parentsOf()
	return m
}

func (m Mapping) parentsOf() map[string]bool {
	parents := map[string]bool{}
	add := func(name string) {
		for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
			parents[name[:i]] = true
		}
	}
	for name := range m.Fields {
		add(name)
	}
	for p := range m.Prefixes {
		add(p)
	}
	return parents
}

// Lookup returns the mapping of a field: its own, else its prefix's.
func (m Mapping) Lookup(name string) (Field, bool) {
	if f, ok := m.Fields[name]; ok {
		return f, true
	}
	for p, t := range m.Prefixes {
		if strings.HasPrefix(name, p) && len(name) > len(p) {
			return Field{Type: t}, true
		}
	}
	return Field{}, false
}

// Names returns the mapped field names, sorted.
func (m Mapping) Names() []string {
	out := make([]string, 0, len(m.Fields))
	for n := range m.Fields {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// MinTime and MaxTime bound @timestamp: engines keep it as nanoseconds
// since the Unix epoch in a signed 64-bit number.
var (
	MinTime = time.Unix(0, math.MinInt64).UTC()
	MaxTime = time.Unix(0, math.MaxInt64).UTC()
)

// Check reports the first field of ev (in name order) that does not fit the
// mapping, or nil. It checks types and ranges, and the shape of names: a
// field cannot hold a value where the mapping (or another field of the
// same event) has an object, nor sit under a field that holds a value.
func (m Mapping) Check(ev event.Event) *MappingError {
	if err := checkTime(ev); err != nil {
		return err
	}
	parents := m.parentsOrMake()
	// The common case finds nothing wrong, so only a failure pays for
	// putting the names in order.
	var worst *MappingError
	for name, v := range ev.Fields {
		if worst != nil && name > worst.Field {
			continue
		}
		if err := m.resolve(ev, name, parents).check(name, v); err != nil && (worst == nil || err.Field < worst.Field) {
			worst = err
		}
	}
	return worst
}

func checkTime(ev event.Event) *MappingError {
	if ev.Timestamp.Before(MinTime) || ev.Timestamp.After(MaxTime) {
		return &MappingError{Field: event.FieldTimestamp, Reason: fmt.Sprintf("%s is outside the years 1678 to 2262", ev.Timestamp.Format(time.RFC3339))}
	}
	return nil
}

func (m Mapping) parentsOrMake() map[string]bool {
	if m.parents == nil {
		return m.parentsOf()
	}
	return m.parents
}

// resolution is what a field name of an event comes to, whatever its
// value: an error of its own, or the mapping its value must fit, if any.
// It depends on the mapping and on the event's names that sort before it
// (the only ones that can be its ancestors).
type resolution struct {
	err   *MappingError
	f     Field
	typed bool
}

// resolve resolves name, a field of ev.
func (m Mapping) resolve(ev event.Event, name string, parents map[string]bool) resolution {
	if err := checkReserved(name); err != nil {
		return resolution{err: err}
	}
	if f, mapped := m.Fields[name]; mapped {
		// A mapped name is a leaf, so none of its ancestors is mapped,
		// and a field of the event on an ancestor fails on its own.
		return resolution{f: f, typed: true}
	}
	return m.resolveUnmapped(ev, name, parents)
}

// check reports whether v, the value of name, fits r.
func (r resolution) check(name string, v any) *MappingError {
	if r.err != nil {
		return r.err
	}
	if r.typed {
		if reason := r.f.check(v); reason != "" {
			return &MappingError{Field: name, Reason: reason}
		}
	}
	return nil
}

// Checker is Mapping.Check for a writer that has each event's fields in
// name order already, event after event. The events of a batch mostly
// have the same names, so it keeps what the names of the event before
// resolved to, and an event with the same names (or the same first ones)
// only has its values checked. A Checker is not safe for concurrent use.
type Checker struct {
	m       Mapping
	parents map[string]bool
	names   []string
	res     []resolution
}

// NewChecker returns a Checker of m.
func (m Mapping) NewChecker() *Checker {
	return &Checker{m: m, parents: m.parentsOrMake()}
}

// Check reports what Mapping.Check reports for ev, whose fields (all of
// them) fields yields in name order.
func (c *Checker) Check(ev event.Event, fields iter.Seq2[string, any]) *MappingError {
	if err := checkTime(ev); err != nil {
		return err
	}
	i := 0
	for name, v := range fields {
		if err := c.check(ev, i, name, v); err != nil {
			return err
		}
		i++
	}
	return nil
}

// CheckAt is Check for an event of n fields whose i-th in name order
// field(i) returns. Ranging over Check's iterator makes a closure per
// event that escapes to the heap; CheckAt calls field and keeps nothing.
func (c *Checker) CheckAt(ev event.Event, n int, field func(i int) (string, any)) *MappingError {
	if err := checkTime(ev); err != nil {
		return err
	}
	for i := range n {
		name, v := field(i)
		if err := c.check(ev, i, name, v); err != nil {
			return err
		}
	}
	return nil
}

// check checks field i of ev, in name order.
func (c *Checker) check(ev event.Event, i int, name string, v any) *MappingError {
	if i < len(c.names) && c.names[i] != name {
		// A name's resolution depends only on the names before it, so
		// those kept up to here still hold.
		c.names, c.res = c.names[:i], c.res[:i]
	}
	if i == len(c.names) {
		c.names = append(c.names, name)
		c.res = append(c.res, c.m.resolve(ev, name, c.parents))
	}
	// In name order, the first failure is the one Check reports. Most
	// values are strings of fields that take any string.
	r := &c.res[i]
	if _, ok := v.(string); ok && r.err == nil && (!r.typed || r.f.Type == TypeKeyword || r.f.Type == TypeText) {
		return nil
	}
	return r.check(name, v)
}

func checkReserved(name string) *MappingError {
	if name == event.FieldTimestamp || name == event.FieldID || name == event.FieldDataset {
		return &MappingError{Field: name, Reason: "reserved field given among the others"}
	}
	return nil
}

// resolveUnmapped resolves a field the mapping does not name: it must not
// hold a value where the mapping (or another field of the event) has an
// object, nor sit under a field that holds a value, and a prefix's type
// applies.
func (m Mapping) resolveUnmapped(ev event.Event, name string, parents map[string]bool) resolution {
	if parents[name] {
		return resolution{err: &MappingError{Field: name, Reason: "is an object in the mapping and cannot hold a value"}}
	}
	for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
		up := name[:i]
		if f, ok := m.Fields[up]; ok {
			return resolution{err: &MappingError{Field: name, Reason: fmt.Sprintf("lies under %s, which is mapped as %s", up, f.Type)}}
		}
		if _, ok := ev.Fields[up]; ok {
			return resolution{err: &MappingError{Field: name, Reason: fmt.Sprintf("lies under %s, which holds a value in the same event", up)}}
		}
	}
	if f, ok := m.Lookup(name); ok {
		return resolution{f: f, typed: true}
	}
	return resolution{}
}

// check returns why v does not fit f, or "".
func (f Field) check(v any) string {
	if v == nil {
		return ""
	}
	if list, ok := v.([]any); ok {
		for i, el := range list {
			if _, nested := el.([]any); nested {
				return fmt.Sprintf("element %d is a nested list", i)
			}
			if r := f.check(el); r != "" {
				return fmt.Sprintf("element %d: %s", i, r)
			}
		}
		return ""
	}
	if _, ok := v.(map[string]any); ok && f.Type != TypeObject {
		return fmt.Sprintf("is an object, mapped as %s", f.Type)
	}
	switch f.Type {
	case TypeKeyword, TypeText:
		return ""
	case TypeIP:
		return checkIP(v)
	case TypeLong:
		return f.checkLong(v)
	case TypeDouble:
		switch v.(type) {
		case int64, float64:
			return ""
		}
		return fmt.Sprintf("not a number: %s", show(v))
	case TypeBoolean:
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("not a boolean: %s", show(v))
		}
	case TypeDate:
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("not a time string: %s", show(v))
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Sprintf("not an RFC 3339 time: %s", show(v))
		}
	case TypeObject:
		if _, ok := v.(map[string]any); !ok {
			return fmt.Sprintf("not an object: %s", show(v))
		}
	}
	return ""
}

func checkIP(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("not an IP address string: %s", show(v))
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return fmt.Sprintf("not an IP address: %s", show(v))
	}
	return ""
}

func (f Field) checkLong(v any) string {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return fmt.Sprintf("not an integer: %s", show(v))
		}
		n = int64(x)
	default:
		return fmt.Sprintf("not an integer: %s", show(v))
	}
	if f.Bounded && (n < f.Min || n > f.Max) {
		return fmt.Sprintf("%d is out of range [%d, %d]", n, f.Min, f.Max)
	}
	return ""
}

// show quotes a value for an error message, clipped.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%T", v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// NewDeadLetter records ev, set aside at at because of err.
func NewDeadLetter(ev event.Event, err *MappingError, at time.Time) (DeadLetter, error) {
	raw, jerr := json.Marshal(ev)
	if jerr != nil {
		return DeadLetter{}, fmt.Errorf("dead letter %s: %w", ev.ID, jerr)
	}
	return DeadLetter{ID: ev.ID, At: at.UTC(), Field: err.Field, Reason: err.Reason, Event: raw}, nil
}

// defaultFields lists the mapped fields by type: the ECS fields the agent,
// the sensor and detection produce, and Lá Chắn's own.
var defaultFields = map[FieldType][]string{
	TypeDate: {
		"@timestamp", "event.created", "event.start", "event.end", "event.ingested",
		"file.created", "file.mtime", "file.ctime", "file.accessed",
		"process.start", "process.end", "tls.server.not_before", "tls.server.not_after",
		"tls.server.x509.not_before", "tls.server.x509.not_after",
	},
	TypeIP: {
		"host.ip", "source.ip", "destination.ip", "client.ip", "server.ip",
		"source.nat.ip", "destination.nat.ip", "dns.resolved_ip", "related.ip", "observer.ip",
	},
	TypeLong: {
		"event.duration", "event.severity", "event.sequence", "event.count",
		"process.pid", "process.ppid", "process.parent.pid", "process.exit_code",
		"file.size", "file.inode",
		"source.bytes", "source.packets", "destination.bytes", "destination.packets",
		"client.bytes", "client.packets", "server.bytes", "server.packets",
		"network.bytes", "network.packets", "dns.answers_count",
		"http.request.bytes", "http.request.body.bytes", "http.response.bytes", "http.response.body.bytes",
		"icmp.type", "icmp.code", "log.origin.file.line",
		"tls.server.x509.public_key_size", "tls.server.x509.public_key_exponent", "tls.server.x509.basic_constraints.path_len",
		"osquery.severity", "osquery.live.row", "osquery.live.rows",
	},
	TypeDouble:  {"event.risk_score", "rule.score"},
	TypeBoolean: {"tls.established", "tls.resumed", "osquery.truncated", "tls.server.x509.basic_constraints.ca"},
	TypeText: {
		"message", "process.command_line", "process.parent.command_line", "rule.description",
		"error.message", "tls.server.x509.subject.distinguished_name",
		"tls.server.x509.issuer.distinguished_name", "user_agent.original",
	},
	TypeObject: {"yara.meta", "lachan.alert.matched", "dns.answers", "tls.server.x509_chain"},
	TypeKeyword: {
		"event.id", "event.dataset", "event.kind", "event.category", "event.type", "event.action",
		"event.outcome", "event.module", "event.code", "event.provider", "event.reason", "event.hash",
		"host.id", "host.name", "host.hostname", "host.mac", "host.domain", "host.architecture",
		"host.os.type", "host.os.name", "host.os.family", "host.os.version", "host.os.platform",
		"host.os.kernel",
		"agent.id", "agent.name", "agent.type", "agent.version", "agent.ephemeral_id",
		"process.name", "process.executable", "process.args", "process.working_directory",
		"process.entity_id", "process.title", "process.parent.name", "process.parent.executable",
		"process.parent.entity_id", "process.hash.md5", "process.hash.sha1", "process.hash.sha256",
		"file.path", "file.name", "file.extension", "file.directory", "file.type", "file.owner",
		"file.group", "file.mode", "file.mime_type", "file.drive_letter",
		"file.hash.md5", "file.hash.sha1", "file.hash.sha256",
		"source.address", "source.domain", "source.mac", "destination.address", "destination.domain",
		"destination.mac", "client.address", "client.domain", "server.address", "server.domain",
		"network.transport", "network.protocol", "network.type", "network.direction",
		"network.community_id", "network.iana_number", "network.application", "network.name",
		"flow.end_reason", "tcp.flags",
		"dns.id", "dns.op_code", "dns.type", "dns.response_code", "dns.header_flags",
		"dns.question.name", "dns.question.type", "dns.question.class",
		"dns.question.registered_domain", "dns.question.top_level_domain", "dns.question.subdomain",
		"tls.version", "tls.version_protocol", "tls.cipher", "tls.curve", "tls.next_protocol",
		"tls.client.ja3", "tls.client.ja3_full", "tls.client.ja4", "tls.client.server_name",
		"tls.client.supported_ciphers", "tls.client.supported_protocols",
		"tls.client.supported_versions", "tls.server.ja3s", "tls.server.hash.sha1",
		"tls.server.hash.sha256", "tls.server.hash.md5", "tls.server.x509.serial_number",
		"tls.server.x509.version_number", "tls.server.x509.public_key_algorithm", "tls.server.x509.public_key_curve",
		"tls.server.x509.signature_algorithm", "tls.server.x509.alternative_names",
		"http.version", "http.request.method", "http.request.mime_type", "http.request.referrer",
		"http.response.mime_type",
		"url.original", "url.full", "url.domain", "url.path", "url.query", "url.scheme",
		"url.extension", "url.fragment",
		"user.id", "user.name", "user.domain", "user.full_name", "user.email",
		"rule.id", "rule.name", "rule.level", "rule.category", "rule.ruleset", "rule.reference",
		"rule.author", "rule.version", "rule.license", "rule.uuid",
		"threat.framework", "threat.technique.id", "threat.technique.name",
		"threat.technique.subtechnique.id", "threat.tactic.id", "threat.tactic.name",
		"threat.indicator.type", "threat.indicator.ip",
		"yara.rule", "yara.namespace", "yara.tags",
		"osquery.name", "osquery.action", "osquery.epoch", "osquery.counter",
		"osquery.live.id", "osquery.live.status",
		"log.level", "log.logger", "log.origin.file.name", "log.origin.function",
		"related.hosts", "related.hash", "related.user",
		"observer.name", "observer.hostname", "observer.type", "observer.vendor",
		"tags",
		"lachan.unit", "lachan.system", "lachan.alert.source_ids",
	},
}

// DefaultMapping returns the mapping of the fields the platform produces.
// Every field under osquery.columns. and osquery.decorations. is a keyword:
// they hold osquery's column values, which are text whatever they look like.
func DefaultMapping() Mapping {
	fields := map[string]Field{}
	for t, names := range defaultFields {
		for _, n := range names {
			fields[n] = Field{Type: t}
		}
	}
	for _, n := range []string{"source.port", "destination.port", "client.port", "server.port",
		"source.nat.port", "destination.nat.port", "url.port"} {
		fields[n] = Field{Type: TypeLong, Bounded: true, Min: 0, Max: 65535}
	}
	fields["http.response.status_code"] = Field{Type: TypeLong, Bounded: true, Min: 100, Max: 999}
	return NewMapping(fields, map[string]FieldType{
		"osquery.columns.":     TypeKeyword,
		"osquery.decorations.": TypeKeyword,
	})
}
