package elastic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"lachan/server/store"
)

// fieldTS is the engine's own field: @timestamp in nanoseconds since the
// epoch, the sort key and the bound of time windows.
const fieldTS = "lachan.ts_ns"

// kwSub is the name of the exact keyword sub-field that text, ip and date
// fields, and every field not in the mapping, carry.
const kwSub = "keyword"

// dateFormat reads RFC 3339 times with up to nanosecond fractions.
const dateFormat = "strict_date_optional_time_nanos||strict_date_optional_time||epoch_millis"

// names are the cluster objects of one index prefix.
type names struct{ prefix string }

func (n names) stream(kind string) string { return n.prefix + "-events-" + kind }
func (n names) streams() string {
	out := make([]string, len(store.DataKinds))
	for i, k := range store.DataKinds {
		out[i] = n.stream(k)
	}
	return strings.Join(out, ",")
}
func (n names) component() string   { return n.prefix + "-events-mappings" }
func (n names) entities() string    { return n.prefix + "-entities" }
func (n names) deadLetters() string { return n.prefix + "-deadletters" }

// fieldMapping is the Elasticsearch mapping of one field type.
func fieldMapping(t store.FieldType) map[string]any {
	kw := map[string]any{"type": "keyword", "ignore_above": 8191}
	sub := map[string]any{kwSub: kw}
	switch t {
	case store.TypeText:
		return map[string]any{"type": "text", "fields": sub}
	case store.TypeIP:
		return map[string]any{"type": "ip", "fields": sub}
	case store.TypeDate:
		return map[string]any{"type": "date", "format": dateFormat, "fields": sub}
	case store.TypeLong, store.TypeDouble, store.TypeBoolean:
		return map[string]any{"type": string(t)}
	case store.TypeObject:
		return map[string]any{"type": "flattened"}
	}
	return kw
}

// eventMappings turns m into the mappings of the event data streams:
// properties nested by the dots of the names, dynamic templates for the
// mapping's prefixes and for fields it does not name.
func eventMappings(m store.Mapping) map[string]any {
	props := map[string]any{}
	for _, name := range m.Names() {
		fm := fieldMapping(m.Fields[name].Type)
		if name == "@timestamp" {
			fm = map[string]any{"type": "date", "format": dateFormat}
		}
		setNested(props, name, fm)
	}
	setNested(props, fieldTS, map[string]any{"type": "long"})
	var dyn []any
	prefixes := make([]string, 0, len(m.Prefixes))
	for p := range m.Prefixes {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	for _, p := range prefixes {
		name := "prefix_" + strings.ReplaceAll(strings.TrimSuffix(p, "."), ".", "_")
		dyn = append(dyn, map[string]any{name: map[string]any{
			"path_match": p + "*", "mapping": fieldMapping(m.Prefixes[p])}})
	}
	kw := map[string]any{"type": "keyword", "ignore_above": 8191}
	for _, mt := range []string{"string", "long", "double", "boolean"} {
		typ := mt
		if mt == "string" {
			typ = "keyword"
		}
		fm := map[string]any{"type": typ, "fields": map[string]any{kwSub: kw}}
		if typ == "keyword" {
			fm["ignore_above"] = 8191
		}
		dyn = append(dyn, map[string]any{"unmapped_" + mt: map[string]any{"match_mapping_type": mt, "mapping": fm}})
	}
	return map[string]any{
		"date_detection":    false,
		"numeric_detection": false,
		"dynamic_templates": dyn,
		"properties":        props,
	}
}

// setNested puts v at the dotted path name in an object's properties.
func setNested(props map[string]any, name string, v map[string]any) {
	parts := strings.Split(name, ".")
	for _, p := range parts[:len(parts)-1] {
		obj, ok := props[p].(map[string]any)
		if !ok {
			obj = map[string]any{"properties": map[string]any{}}
			props[p] = obj
		}
		props = obj["properties"].(map[string]any)
	}
	props[parts[len(parts)-1]] = v
}

// setupStep is one idempotent PUT of the layout.
type setupStep struct {
	path []string
	body map[string]any
	// exists marks an answer that means the object is already there.
	exists string
}

// setupSteps lists the layout in the order it must be made.
func setupSteps(cfg Config, m store.Mapping) []setupStep {
	n := names{cfg.IndexPrefix}
	meta := map[string]any{"managed_by": "lachan"}
	steps := []setupStep{{
		path: []string{"_component_template", n.component()},
		body: map[string]any{"_meta": meta, "template": map[string]any{
			"settings": map[string]any{"index.mapping.total_fields.limit": 5000},
			"mappings": eventMappings(m)}},
	}}
	for _, kind := range store.DataKinds {
		hot := map[string]any{"rollover": map[string]any{
			"max_primary_shard_size": cfg.RolloverSize, "max_age": cfg.RolloverAge}}
		phases := map[string]any{"hot": map[string]any{"actions": hot}}
		if r := cfg.Retention.of(kind); r > 0 {
			phases["delete"] = map[string]any{"min_age": ilmAge(r), "actions": map[string]any{"delete": map[string]any{}}}
		}
		steps = append(steps, setupStep{
			path: []string{"_ilm", "policy", n.stream(kind)},
			body: map[string]any{"policy": map[string]any{"_meta": meta, "phases": phases}},
		}, setupStep{
			path: []string{"_index_template", n.stream(kind)},
			body: map[string]any{
				"_meta": meta, "index_patterns": []string{n.stream(kind)}, "data_stream": map[string]any{},
				"priority": 500, "composed_of": []string{n.component()},
				"template": map[string]any{"settings": map[string]any{
					"index.lifecycle.name": n.stream(kind),
					"number_of_shards":     cfg.Shards, "number_of_replicas": cfg.Replicas}},
			},
		})
	}
	plain := func(props map[string]any) map[string]any {
		return map[string]any{
			"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": cfg.Replicas},
			"mappings": map[string]any{"dynamic": "strict", "properties": props},
		}
	}
	kw := map[string]any{"type": "keyword"}
	steps = append(steps, setupStep{
		path:   []string{n.entities()},
		body:   plain(map[string]any{"kind": kw, "id": kw, "version": map[string]any{"type": "long"}, "doc": map[string]any{"type": "binary"}}),
		exists: "resource_already_exists_exception",
	}, setupStep{
		path: []string{n.deadLetters()},
		body: plain(map[string]any{"id": kw, "at": map[string]any{"type": "date", "format": dateFormat}, "field": kw,
			"reason": map[string]any{"type": "text"}, "event": map[string]any{"type": "text", "index": false}}),
		exists: "resource_already_exists_exception",
	})
	return steps
}

// ilmAge writes a duration as an ILM age, in whole days when it is one.
func ilmAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// setup makes the layout; every step is idempotent, so several servers
// may run it at once.
func (e *Engine) setup(ctx context.Context) error {
	for _, st := range setupSteps(e.cfg, e.mapping) {
		body, err := json.Marshal(st.body)
		if err != nil {
			return fmt.Errorf("setup %s: %w", strings.Join(st.path, "/"), err)
		}
		_, _, err = e.do(ctx, request{method: http.MethodPut, path: st.path, body: body})
		var ae *APIError
		if err != nil && st.exists != "" && errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.Type == st.exists {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	return nil
}
