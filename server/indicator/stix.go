package indicator

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxBundle bounds a STIX document read by ParseSTIX.
const maxBundle = 64 << 20

// stixObject is the part of a STIX 2.1 object ParseSTIX reads.
type stixObject struct {
	Type           string   `json:"type"`
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	ValidFrom      string   `json:"valid_from"`
	ValidUntil     string   `json:"valid_until"`
	Labels         []string `json:"labels"`
	IndicatorTypes []string `json:"indicator_types"`
	Confidence     int      `json:"confidence"`
	Revoked        bool     `json:"revoked"`
}

// ParseSTIX reads a STIX 2.1 bundle (or a lone indicator object, or a JSON
// array of objects) and returns one Indicator per value named by each
// indicator object's pattern. Objects other than indicators are ignored,
// as are revoked indicators. An indicator whose pattern is outside the
// supported subset (comparisons with = or IN on file:hashes.MD5, 'SHA-1'
// or 'SHA-256', domain-name:value, ipv4-addr:value, ipv6-addr:value and
// url:value, joined by OR within or between observation brackets) is
// reported with its object ID and the reason, and skipped.
func ParseSTIX(r io.Reader, source string) ([]Indicator, []error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBundle+1))
	if err != nil {
		return nil, []error{fmt.Errorf("%s: read: %w", source, err)}
	}
	if len(data) > maxBundle {
		return nil, []error{fmt.Errorf("%s: larger than %d bytes", source, maxBundle)}
	}
	objs, err := stixObjects(data)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", source, err)}
	}
	var out []Indicator
	var errs []error
	for i, raw := range objs {
		var o stixObject
		if err := json.Unmarshal(raw, &o); err != nil {
			errs = append(errs, fmt.Errorf("%s: object %d: %w", source, i, err))
			continue
		}
		if o.Type != "indicator" || o.Revoked {
			continue
		}
		inds, err := fromSTIX(o, source)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", source, stixName(o, i), err))
			continue
		}
		out = append(out, inds...)
	}
	return out, errs
}

func stixName(o stixObject, i int) string {
	if o.ID != "" {
		return o.ID
	}
	return fmt.Sprintf("object %d (no id)", i)
}

// stixObjects returns the objects of a bundle, of an array, or a lone
// object.
func stixObjects(data []byte) ([]json.RawMessage, error) {
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		var list []json.RawMessage
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("not a JSON array of STIX objects: %w", err)
		}
		return list, nil
	}
	var head struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a STIX bundle: %w", err)
	}
	switch head.Type {
	case "bundle":
		return head.Objects, nil
	case "":
		return nil, fmt.Errorf("not a STIX bundle: no \"type\"")
	}
	return []json.RawMessage{json.RawMessage(data)}, nil
}

func fromSTIX(o stixObject, source string) ([]Indicator, error) {
	if o.ID == "" {
		return nil, fmt.Errorf("indicator without an id")
	}
	if o.PatternType != "" && o.PatternType != "stix" {
		return nil, fmt.Errorf("pattern_type %q is not supported (only stix)", o.PatternType)
	}
	if o.Pattern == "" {
		return nil, fmt.Errorf("no pattern")
	}
	vals, err := ParsePattern(o.Pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %.200q: %w", o.Pattern, err)
	}
	base := Indicator{
		STIXID: o.ID, Source: source, Name: o.Name, Description: o.Description,
		Confidence: o.Confidence,
	}
	base.Labels = append(append(base.Labels, o.IndicatorTypes...), o.Labels...)
	if base.ValidFrom, err = stixTime(o.ValidFrom, "valid_from"); err != nil {
		return nil, err
	}
	if base.ValidUntil, err = stixTime(o.ValidUntil, "valid_until"); err != nil {
		return nil, err
	}
	out := make([]Indicator, 0, len(vals))
	for i, v := range vals {
		ind := base
		ind.Type, ind.Value = v.Type, v.Value
		ind.ID = o.ID
		if len(vals) > 1 {
			ind.ID = fmt.Sprintf("%s#%d", o.ID, i+1)
		}
		if err := ind.Check(); err != nil {
			return nil, err
		}
		out = append(out, ind)
	}
	return out, nil
}

func stixTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: not an RFC 3339 time", field, s)
	}
	return t.UTC(), nil
}
