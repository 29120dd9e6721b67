package forward

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Object is one STIX 2.1 object as JSON properties. Encoding a map sorts
// its keys, which keeps the bytes of a bundle a function of its content.
type Object map[string]any

// Bundle is a STIX 2.1 bundle.
type Bundle struct {
	Type    string   `json:"type"`
	ID      string   `json:"id"`
	Objects []Object `json:"objects"`
}

// namespace is Lá Chắn's UUIDv5 namespace: STIX IDs derived in it from
// Lá Chắn IDs are the same at every send, so a resend is recognised.
var namespace = mustUUID("c3f1b1a8-4a57-4d0e-9a53-2f6a4c0e7d15")

// stixNamespace is the namespace STIX 2.1 gives for cyber observables.
var stixNamespace = mustUUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

func mustUUID(s string) [16]byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic("forward: bad namespace " + s)
	}
	return [16]byte(b)
}

// uuid5 is RFC 9562 version 5 (SHA-1, name-based).
func uuid5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// ID returns the STIX ID of a Lá Chắn thing: typ--UUIDv5(kind|id).
func ID(typ, kind, id string) string { return typ + "--" + uuid5(namespace, kind+"|"+id) }

// Timestamp formats a STIX timestamp (UTC, millisecond precision).
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Encode writes v as canonical JSON: sorted object keys (maps), no
// insignificant white space, no HTML escaping. These bytes are what is
// signed and sent.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

var (
	typeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$`)
	idRe   = regexp.MustCompile(`^([a-z0-9][a-z0-9-]{1,248}[a-z0-9])--[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	propRe = regexp.MustCompile(`^[a-z0-9_]{3,250}$`)
)

// required lists, per known type, the properties it must carry beyond
// type, id and spec_version.
var required = map[string][]string{
	"incident":      {"name", "created", "modified"},
	"indicator":     {"pattern", "pattern_type", "valid_from", "created", "modified"},
	"identity":      {"name", "created", "modified"},
	"observed-data": {"first_observed", "last_observed", "number_observed", "object_refs", "created", "modified"},
	"sighting":      {"sighting_of_ref", "created", "modified"},
	"relationship":  {"relationship_type", "source_ref", "target_ref", "created", "modified"},
}

// ValidateObject checks what a receiver relies on: type, id of that type,
// spec_version 2.1 on domain and relationship objects, the required
// properties of the types Lá Chắn reads, timestamps and references that
// parse, and property names of the STIX form.
func ValidateObject(o Object) error {
	typ, _ := o["type"].(string)
	if !typeRe.MatchString(typ) {
		return fmt.Errorf("property type: %q is not a STIX type", typ)
	}
	id, _ := o["id"].(string)
	if m := idRe.FindStringSubmatch(id); m == nil || m[1] != typ {
		return fmt.Errorf("property id: %q is not a %s identifier", id, typ)
	}
	for k := range o {
		if !propRe.MatchString(k) && k != "id" && k != "type" {
			return fmt.Errorf("property %q: not a STIX property name", k)
		}
	}
	if isSCO(typ) {
		return nil
	}
	if v, _ := o["spec_version"].(string); v != "2.1" {
		return fmt.Errorf("property spec_version: %q, want \"2.1\"", v)
	}
	for _, p := range required[typ] {
		if _, ok := o[p]; !ok {
			return fmt.Errorf("property %s: required for %s", p, typ)
		}
	}
	return checkValues(o)
}

func checkValues(o Object) error {
	for k, v := range o {
		switch {
		case k == "created" || k == "modified" || k == "valid_from" || k == "first_observed" || k == "last_observed" || k == "first_seen" || k == "last_seen":
			s, _ := v.(string)
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return fmt.Errorf("property %s: %q is not a timestamp", k, s)
			}
		case strings.HasSuffix(k, "_ref"):
			if s, _ := v.(string); !idRe.MatchString(s) {
				return fmt.Errorf("property %s: %q is not an identifier", k, s)
			}
		case strings.HasSuffix(k, "_refs"):
			list, ok := v.([]any)
			if !ok || len(list) == 0 && k == "object_refs" {
				return fmt.Errorf("property %s: want a non-empty list of identifiers", k)
			}
			for i, el := range list {
				if s, _ := el.(string); !idRe.MatchString(s) {
					return fmt.Errorf("property %s[%d]: %q is not an identifier", k, i, s)
				}
			}
		}
	}
	return nil
}

// isSCO reports whether a type is a cyber observable (no spec_version or
// timestamps required).
func isSCO(typ string) bool {
	switch typ {
	case "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
		"file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process",
		"software", "url", "user-account", "windows-registry-key", "x509-certificate", "x-lachan-event":
		return true
	}
	return false
}

// Modified returns an object's modified time (zero when absent or bad).
func (o Object) Modified() time.Time {
	s, _ := o["modified"].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// String returns a string property ("" when absent).
func (o Object) String(k string) string { s, _ := o[k].(string); return s }

// Envelope is a TAXII 2.1 envelope.
type Envelope struct {
	More    bool     `json:"more,omitempty"`
	Next    string   `json:"next,omitempty"`
	Objects []Object `json:"objects"`
}

// MaxObjects bounds the objects of one envelope.
const MaxObjects = 10000

// ParseEnvelope decodes a TAXII envelope (or a STIX bundle, which carries
// objects the same way) and validates every object; an error names the
// object's index and ID and the property at fault.
func ParseEnvelope(body []byte) ([]Object, error) {
	var raw struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	if raw.Type != "" && raw.Type != "bundle" {
		return nil, fmt.Errorf("envelope: type %q, want an envelope or a bundle", raw.Type)
	}
	if len(raw.Objects) > MaxObjects {
		return nil, fmt.Errorf("envelope: %d objects, at most %d", len(raw.Objects), MaxObjects)
	}
	out := make([]Object, 0, len(raw.Objects))
	seen := map[string]bool{}
	for i, r := range raw.Objects {
		var o Object
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		if err := dec.Decode(&o); err != nil || o == nil {
			return nil, fmt.Errorf("objects[%d]: not a JSON object", i)
		}
		if err := ValidateObject(o); err != nil {
			return nil, fmt.Errorf("objects[%d] (%.80s): %w", i, o.String("id"), err)
		}
		key := o.String("id") + "|" + o.String("modified")
		if seen[key] {
			return nil, fmt.Errorf("objects[%d] (%s): given twice", i, o.String("id"))
		}
		seen[key] = true
		out = append(out, o)
	}
	return out, nil
}
