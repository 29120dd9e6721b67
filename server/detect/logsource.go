package detect

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// LogSourceMapping says which event datasets a Sigma logsource covers and
// which event field stands for each Sigma field name. In LogSource, an empty
// member must be absent from the rule too, and "*" accepts any value.
type LogSourceMapping struct {
	LogSource LogSource
	Datasets  []string
	// Fields maps a Sigma field name to an event field name; a name not
	// listed is used as it is.
	Fields map[string]string
	// Where, when set, limits the mapping to events whose field Where.Field
	// holds one of Where.Values (compared case-insensitively), such as the
	// Sysmon event IDs of one category. The engine indexes rules by it, so
	// an event meets only the rules of its own kind.
	Where *Where
	// Known, when set, lists every Sigma field name the source's events
	// carry (besides the keys of Fields); a rule that uses another field is
	// reported instead of loading and never matching.
	Known map[string]bool
	// Fallback mappings cover a rule only when no other mapping does. Their
	// datasets may use the templates {product}, {category} and {service},
	// replaced by the rule's values (absent ones drop out with their dot).
	Fallback bool
	Pos      Pos
}

// Where is an event field and the values it must hold.
type Where struct {
	Field  string
	Values []string
}

// LogSources is the whole mapping file, in file order.
type LogSources []LogSourceMapping

// covers reports whether a mapping applies to a rule's logsource. Members
// must be equal (absent equals absent) so that, say, a Windows
// network_connection rule is not run against sensor flows whose fields it
// was not written for.
func (m *LogSourceMapping) covers(ls LogSource) bool {
	eq := func(want, got string) bool { return want == "*" || want == got }
	return eq(m.LogSource.Product, ls.Product) && eq(m.LogSource.Category, ls.Category) && eq(m.LogSource.Service, ls.Service)
}

// Resolve returns every mapping that covers a rule's logsource, or, when
// none does, every fallback mapping that does.
func (s LogSources) Resolve(ls LogSource) []*LogSourceMapping {
	var out, fallback []*LogSourceMapping
	for i := range s {
		switch {
		case !s[i].covers(ls):
		case s[i].Fallback:
			fallback = append(fallback, &s[i])
		default:
			out = append(out, &s[i])
		}
	}
	if len(out) == 0 && ls.Category != "" && ls.Service != "" {
		// A rule that names both a category and a service (hayabusa's
		// converted rules do) is read from the service's channel when no
		// source maps the pair: the service is where its events are.
		byService := s.Resolve(LogSource{Product: ls.Product, Service: ls.Service})
		if len(byService) > 0 && !byService[0].Fallback {
			return byService
		}
	}
	if len(out) == 0 {
		return fallback
	}
	return out
}

// channelDatasets is the dataset value of a source whose datasets are the
// channels its rules' detections name.
const channelDatasets = "{channel}"

// byChannel reports whether the source's datasets come from the channels
// each rule tests.
func (m *LogSourceMapping) byChannel() bool {
	return len(m.Datasets) == 1 && m.Datasets[0] == channelDatasets
}

// DatasetsFor returns the mapping's datasets for a rule's logsource, with
// templates filled in.
func (m *LogSourceMapping) DatasetsFor(ls LogSource) []string {
	out := make([]string, 0, len(m.Datasets))
	for _, d := range m.Datasets {
		if !strings.Contains(d, "{") {
			out = append(out, d)
			continue
		}
		var parts []string
		for _, p := range strings.Split(d, ".") {
			p = strings.NewReplacer("{product}", ls.Product, "{category}", ls.Category, "{service}", ls.Service).Replace(p)
			if p != "" {
				parts = append(parts, p)
			}
		}
		out = append(out, strings.Join(parts, "."))
	}
	return out
}

// knows reports whether events of the source carry a Sigma field.
func (m *LogSourceMapping) knows(name string) bool {
	if m.Known == nil {
		return true
	}
	_, mapped := m.Fields[name]
	return mapped || m.Known[name]
}

// field maps a Sigma field name to the event's.
func (m *LogSourceMapping) field(name string) string {
	if f, ok := m.Fields[name]; ok {
		return f
	}
	return name
}

var (
	datasetRE         = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`)
	datasetTemplateRE = regexp.MustCompile(`^([a-z0-9_-]+|\{(product|category|service)\})(\.([a-z0-9_-]+|\{(product|category|service)\}))*$`)
)

// LoadLogSources reads a log-source mapping file:
//
//	sources:
//	  - logsource: {category: dns}
//	    datasets: [network.dns]
//	    fields: {query: dns.question.name}
//
// Unknown keys are errors here (unlike in Sigma rules) because the file is
// ours and a misspelt key would silently drop a mapping. The error, when not
// nil, is an ErrorList.
func LoadLogSources(fsys fs.FS, path string) (LogSources, error) {
	src, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, fmt.Errorf("read log sources: %w", err)
	}
	p := &nodeParser{file: path}
	root, err := p.decodeSingle(src)
	if err != nil {
		return nil, err
	}
	var out LogSources
	pairs, _ := p.mapping(root, "log sources file")
	for _, kv := range pairs {
		if kv.key == "field_sets" {
			continue // named lists for YAML anchors, used by known_fields
		}
		if kv.key != "sources" {
			p.errorf(kv.keyN, "unknown key %q", kv.key)
			continue
		}
		if kv.value.Kind != yaml.SequenceNode {
			p.errorf(kv.value, "sources must be a list")
			continue
		}
		for _, item := range kv.value.Content {
			if m, ok := p.sourceMapping(resolve(item)); ok {
				out = p.addMapping(out, m)
			}
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// addMapping adds m unless an earlier mapping of the same logsource
// already covers one of its datasets. A logsource may be mapped once per
// form its events take, such as process_creation from Sysmon and from the
// Security log.
func (p *nodeParser) addMapping(out LogSources, m LogSourceMapping) LogSources {
	for _, o := range out {
		if o.LogSource != m.LogSource {
			continue
		}
		for _, d := range m.Datasets {
			for _, od := range o.Datasets {
				if d == od {
					p.errAt(m.Pos, "logsource %s already mapped to dataset %q at line %d", m.LogSource, d, o.Pos.Line)
					return out
				}
			}
		}
	}
	return append(out, m)
}

func (p *nodeParser) sourceMapping(n *yaml.Node) (LogSourceMapping, bool) {
	m := LogSourceMapping{Pos: nodePos(n), Fields: map[string]string{}}
	before := len(p.errs)
	pairs, _ := p.mapping(n, "source")
	for _, kv := range pairs {
		switch kv.key {
		case "logsource":
			m.LogSource = p.mappedLogSource(kv.value)
		case "datasets":
			m.Datasets, _ = p.strList(kv.value, "datasets")
			for i, d := range m.Datasets {
				if !datasetRE.MatchString(d) && !datasetTemplateRE.MatchString(d) && d != channelDatasets {
					p.errorf(resolve(kv.value).Content[i], "dataset %q is not a lower-case dotted name", d)
				}
			}
		case "where":
			m.Where = p.where(kv.value)
		case "known_fields":
			m.Known = map[string]bool{}
			p.nestedNames(kv.value, m.Known, 0)
		case "fallback":
			m.Fallback = p.boolean(kv.value, "fallback")
		case "fields":
			fields, _ := p.mapping(kv.value, "fields")
			for _, f := range fields {
				m.Fields[f.key], _ = p.str(f.value, "field "+f.key)
			}
		default:
			p.errorf(kv.keyN, "unknown key %q", kv.key)
		}
	}
	if len(p.errs) == before && (m.LogSource == LogSource{} || len(m.Datasets) == 0) {
		p.errorf(n, "a source needs a logsource and at least one dataset")
	}
	for i, d := range m.Datasets {
		if len(p.errs) == before && !m.Fallback && strings.Contains(d, "{") && !m.byChannel() {
			p.errorf(resolve(n), "dataset %q: templates are only allowed in fallback sources", m.Datasets[i])
		}
	}
	return m, len(p.errs) == before
}

func (p *nodeParser) mappedLogSource(n *yaml.Node) LogSource {
	var ls LogSource
	pairs, _ := p.mapping(n, "logsource")
	for _, kv := range pairs {
		dst := ls.field(kv.key)
		if dst == nil {
			p.errorf(kv.keyN, "unknown logsource key %q", kv.key)
			continue
		}
		*dst, _ = p.str(kv.value, "logsource "+kv.key)
	}
	return ls
}

// field returns where a logsource key's value goes, or nil for a key that
// is not product, category or service.
func (ls *LogSource) field(key string) *string {
	switch key {
	case "product":
		return &ls.Product
	case "category":
		return &ls.Category
	case "service":
		return &ls.Service
	}
	return nil
}

// where parses "where: {Field: [values]}", one field only, so that the
// engine can index on it.
func (p *nodeParser) where(n *yaml.Node) *Where {
	pairs, ok := p.mapping(n, "where")
	if !ok {
		return nil
	}
	if len(pairs) != 1 {
		p.errorf(n, "where must name exactly one field")
		return nil
	}
	w := &Where{Field: pairs[0].key}
	v := resolve(pairs[0].value)
	if v.Kind == yaml.ScalarNode {
		w.Values = []string{strings.ToLower(v.Value)}
		return w
	}
	vals, _ := p.strList(v, "where "+w.Field)
	for _, s := range vals {
		w.Values = append(w.Values, strings.ToLower(s))
	}
	if len(w.Values) == 0 {
		p.errorf(v, "where %s: no values", w.Field)
		return nil
	}
	return w
}

// nestedNames collects field names from a list whose items may themselves
// be lists (YAML aliases of shared field sets).
func (p *nodeParser) nestedNames(n *yaml.Node, out map[string]bool, depth int) {
	n = resolve(n)
	switch {
	case depth > 4:
		p.errorf(n, "known_fields nested too deeply")
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		out[n.Value] = true
	case n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			p.nestedNames(c, out, depth+1)
		}
	default:
		p.errorf(n, "known_fields must be a list of field names or of such lists")
	}
}

func (p *nodeParser) boolean(n *yaml.Node, what string) bool {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errorf(n, "%s must be true or false", what)
		return false
	}
	return n.Value == "true"
}
