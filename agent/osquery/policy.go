package osquery

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// Policy is what the agent asks osqueryd to run: a schedule of its own and
// named packs. osqueryd names a pack query's results
// "pack_<pack>_<query>".
type Policy struct {
	Schedule Pack
	Packs    map[string]Pack
	// FilePaths are the folders file_events watches, by category
	// (osquery's file_paths; "%%" at the end of a path takes its
	// sub-folders too).
	FilePaths map[string][]string
}

// Validate reports names osqueryd would refuse or results could not carry.
func (p Policy) Validate() error {
	names := make([]string, 0, len(p.Packs))
	for n := range p.Packs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !validName(n) {
			return fmt.Errorf("osquery policy: pack %q: name must be letters, digits, '_' or '-'", n)
		}
	}
	return nil
}

// configQuery is one query in osquery's JSON configuration.
type configQuery struct {
	Query       string `json:"query"`
	Interval    int64  `json:"interval"`
	Platform    string `json:"platform,omitempty"`
	Description string `json:"description,omitempty"`
}

type configPack struct {
	Queries map[string]configQuery `json:"queries"`
}

// configDoc is osquery's configuration format, as far as the agent fills
// it; options are left to the flags the supervisor sets, so that a policy
// from the server cannot redirect osqueryd's logs.
type configDoc struct {
	Schedule map[string]configQuery `json:"schedule"`
	Packs    map[string]configPack  `json:"packs,omitempty"`
	// FilePaths is osquery's file_paths, for file_events.
	FilePaths map[string][]string `json:"file_paths,omitempty"`
}

func configQueries(p Pack) map[string]configQuery {
	out := make(map[string]configQuery, len(p.Queries))
	for _, q := range p.Queries {
		out[q.Name] = configQuery{
			Query:       q.SQL,
			Interval:    int64(q.Interval.Seconds()),
			Platform:    q.Platform,
			Description: q.Description,
		}
	}
	return out
}

// ConfigJSON renders the policy in osquery's configuration format.
func (p Policy) ConfigJSON() ([]byte, error) {
	doc := configDoc{Schedule: configQueries(p.Schedule), FilePaths: p.FilePaths}
	if len(p.Packs) > 0 {
		doc.Packs = make(map[string]configPack, len(p.Packs))
		for name, pk := range p.Packs {
			doc.Packs[name] = configPack{Queries: configQueries(pk)}
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("osquery config: %w", err)
	}
	return b, nil
}

// policyHolder keeps the current policy for the config plugin, which
// osqueryd calls from its own schedule: the agent's own policy and the
// packs of the server's content, rendered together.
type policyHolder struct {
	mu      sync.Mutex
	source  string
	base    Policy
	content map[string]Pack
	config  []byte
}

func (h *policyHolder) set(p Policy) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.render(p, h.content)
}

func (h *policyHolder) setContent(packs map[string]Pack) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.render(h.base, packs)
}

// render merges the content packs into p (a pack of the agent's own keeps
// its name) and keeps the result; on an error nothing changes.
func (h *policyHolder) render(p Policy, content map[string]Pack) error {
	merged := p
	if len(content) > 0 {
		merged.Packs = make(map[string]Pack, len(p.Packs)+len(content))
		for n, pk := range content {
			merged.Packs[n] = pk
		}
		for n, pk := range p.Packs {
			merged.Packs[n] = pk
		}
	}
	if err := merged.Validate(); err != nil {
		return err
	}
	b, err := merged.ConfigJSON()
	if err != nil {
		return err
	}
	h.base, h.content, h.config = p, content, b
	return nil
}

// generate answers the config plugin's genConfig: one source, named after
// the extension.
func (h *policyHolder) generate(context.Context) (map[string]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return map[string]string{h.source: string(h.config)}, nil
}
