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
// osqueryd calls from its own schedule.
type policyHolder struct {
	mu     sync.Mutex
	source string
	config []byte
}

func (h *policyHolder) set(p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	b, err := p.ConfigJSON()
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.config = b
	return nil
}

// generate answers the config plugin's genConfig: one source, named after
// the extension.
func (h *policyHolder) generate(context.Context) (map[string]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return map[string]string{h.source: string(h.config)}, nil
}
