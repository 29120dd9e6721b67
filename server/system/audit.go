package system

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// KindAudit is the store entity kind of audit records.
const KindAudit = "audit"

// Audit actions.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Audit records one change: who made it, when, and the object before and
// after (absent before a create and after a delete).
type Audit struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Action string    `json:"action"`
	// Kind and Object name what changed ("system", its ID).
	Kind   string `json:"kind"`
	Object string `json:"object"`
	// Changes lists the fields that differ, as paths (layers.on_site.unit).
	Changes []string        `json:"changes,omitempty"`
	Before  json.RawMessage `json:"before,omitempty"`
	After   json.RawMessage `json:"after,omitempty"`
}

// auditID orders an object's records by time: kind/object/nanoseconds-rand.
func auditID(kind, object string, at time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on supported platforms
	return fmt.Sprintf("%s/%s/%020d-%s", kind, object, at.UnixNano(), hex.EncodeToString(b[:]))
}

// newAudit builds the record of a change from before to after (either may
// be nil).
func newAudit(at time.Time, by, action string, before, after *System) (Audit, error) {
	a := Audit{At: at.UTC(), By: by, Action: action, Kind: KindSystem}
	var err error
	if before != nil {
		a.Object = before.ID
		if a.Before, err = stored(*before); err != nil {
			return a, err
		}
	}
	if after != nil {
		a.Object = after.ID
		if a.After, err = stored(*after); err != nil {
			return a, err
		}
	}
	if before != nil && after != nil {
		a.Changes = diff("", reflect.ValueOf(*before), reflect.ValueOf(*after))
	}
	a.ID = auditID(a.Kind, a.Object, a.At)
	return a, nil
}

// stored is a system's document as kept in the store: without its version,
// which the store keeps.
func stored(s System) ([]byte, error) {
	s.Version = 0
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("system %s: %w", s.ID, err)
	}
	return b, nil
}

// diff lists the JSON paths of fields that differ between a and b (structs
// compared field by field, anything else as a whole).
func diff(prefix string, a, b reflect.Value) []string {
	if a.Kind() != reflect.Struct || a.Type() == reflect.TypeOf(time.Time{}) {
		if reflect.DeepEqual(a.Interface(), b.Interface()) {
			return nil
		}
		return []string{strings.TrimPrefix(prefix, ".")}
	}
	var out []string
	for i := 0; i < a.NumField(); i++ {
		f := a.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || name == "version" || !f.IsExported() {
			continue
		}
		out = append(out, diff(prefix+"."+name, a.Field(i), b.Field(i))...)
	}
	return out
}

func (r *Registry) putAudit(ctx context.Context, a Audit) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("audit %s: %w", a.ID, err)
	}
	if _, err := r.st.PutEntity(ctx, KindAudit, a.ID, b, 0); err != nil {
		return fmt.Errorf("audit %s: %w", a.ID, err)
	}
	return nil
}

// History returns the audit records of one system, oldest first. The
// system need not exist any more.
func (r *Registry) History(ctx context.Context, id string) ([]Audit, error) {
	ents, err := r.st.ListEntities(ctx, KindAudit)
	if err != nil {
		return nil, fmt.Errorf("audit records: %w", err)
	}
	prefix := KindSystem + "/" + id + "/"
	var out []Audit
	for _, e := range ents {
		if !strings.HasPrefix(e.ID, prefix) {
			continue
		}
		var a Audit
		if err := json.Unmarshal(e.Doc, &a); err != nil {
			return nil, fmt.Errorf("audit %s: stored document: %w", e.ID, err)
		}
		out = append(out, a)
	}
	return out, nil
}
