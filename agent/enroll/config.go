package enroll

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Settings are what enrollment writes into the server section of the
// agent's configuration; an empty Secret or Code removes that key, so a
// PC that has enrolled keeps no credential it no longer needs.
type Settings struct {
	URL      string
	CASHA256 string
	// CAFile is written only when given and the file names none yet.
	CAFile string
	Secret string
	Code   string
}

// Render returns the configuration in base (an existing file or the
// default template) with s written into it; comments and every other
// key are kept as they are.
func Render(base []byte, s Settings) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("agent configuration: %w", err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("agent configuration: the top level is not a mapping")
	}
	server := child(doc.Content[0], "server")
	if server.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("agent configuration line %d: server is not a mapping", server.Line)
	}
	set(server, "url", s.URL)
	set(server, "ca_sha256", s.CASHA256)
	if ca := lookup(server, "ca_file"); s.CAFile != "" && (ca == nil || ca.Value == "") {
		set(server, "ca_file", s.CAFile)
	}
	for key, v := range map[string]string{"enroll_secret": s.Secret, "enroll_code": s.Code} {
		if v == "" {
			remove(server, key)
		} else {
			set(server, key, v)
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("agent configuration: %w", err)
	}
	return out.Bytes(), enc.Close()
}

// ReadBase returns the configuration at path, or template when there is
// none yet.
func ReadBase(path string, template []byte) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return template, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent configuration %s: %w", path, err)
	}
	return b, nil
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// child returns the mapping under key, adding an empty one when absent.
func child(m *yaml.Node, key string) *yaml.Node {
	if v := lookup(m, key); v != nil {
		if v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || v.Value == "") {
			v.Kind, v.Tag, v.Value = yaml.MappingNode, "!!map", ""
		}
		return v
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return v
}

func set(m *yaml.Node, key, value string) {
	if v := lookup(m, key); v != nil {
		v.Kind, v.Tag, v.Value, v.Style = yaml.ScalarNode, "!!str", value, 0
		if value == "" {
			v.Style = yaml.DoubleQuotedStyle
		}
		return
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}

func remove(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
