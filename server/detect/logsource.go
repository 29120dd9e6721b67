package detect

import (
	"fmt"
	"io/fs"
	"regexp"

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
	Pos    Pos
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

// Resolve returns every mapping that covers a rule's logsource.
func (s LogSources) Resolve(ls LogSource) []*LogSourceMapping {
	var out []*LogSourceMapping
	for i := range s {
		if s[i].covers(ls) {
			out = append(out, &s[i])
		}
	}
	return out
}

// field maps a Sigma field name to the event's.
func (m *LogSourceMapping) field(name string) string {
	if f, ok := m.Fields[name]; ok {
		return f
	}
	return name
}

var datasetRE = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`)

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

func (p *nodeParser) addMapping(out LogSources, m LogSourceMapping) LogSources {
	for _, o := range out {
		if o.LogSource == m.LogSource {
			p.errAt(m.Pos, "logsource %s already mapped at line %d", m.LogSource, o.Pos.Line)
			return out
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
				if !datasetRE.MatchString(d) {
					p.errorf(resolve(kv.value).Content[i], "dataset %q is not a lower-case dotted name", d)
				}
			}
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
	return m, len(p.errs) == before
}

func (p *nodeParser) mappedLogSource(n *yaml.Node) LogSource {
	var ls LogSource
	pairs, _ := p.mapping(n, "logsource")
	for _, kv := range pairs {
		var dst *string
		switch kv.key {
		case "product":
			dst = &ls.Product
		case "category":
			dst = &ls.Category
		case "service":
			dst = &ls.Service
		default:
			p.errorf(kv.keyN, "unknown logsource key %q", kv.key)
			continue
		}
		*dst, _ = p.str(kv.value, "logsource "+kv.key)
	}
	return ls
}
