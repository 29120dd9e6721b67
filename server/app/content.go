package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing/fstest"

	"lachan/detections"
	"lachan/internal/atomicfile"
	"lachan/internal/bundle"
	"lachan/rules"
	"lachan/server/api"
	"lachan/server/audit"
	"lachan/server/content"
	"lachan/server/detect"
)

// contentPacks reads the active content packs, verifying each against the
// trusted keys again: a pack whose key is no longer trusted, or whose file
// changed, is left out, logged and shown in the rulebook as failed. The
// installs and rollbacks made since the last start go to the audit trail.
func (s *Server) contentPacks(ctx context.Context, cfg content.Config, trail *audit.Trail) ([]content.Pack, error) {
	if cfg.Dir == "" {
		return nil, nil
	}
	dir := content.Dir{Path: cfg.Dir}
	if cfg.DefaultPack != "" {
		// The pack shipped with the server, on a fresh install or after an
		// upgrade bringing newer content; audited below with the rest.
		if ch, ok, err := dir.InstallShipped(cfg.DefaultPack, cfg.Keys()); err != nil {
			s.log.Error("shipped content pack not installed", "file", cfg.DefaultPack, "err", err)
		} else if ok {
			s.log.Info("shipped content pack installed", "pack", ch.Name, "version", ch.Version, "previous", ch.Previous)
		}
	}
	if err := auditContentChanges(ctx, dir, trail); err != nil {
		return nil, err
	}
	active, err := dir.Active(cfg.Keys())
	if err != nil || len(active) == 0 {
		return nil, err
	}
	book := api.RuleSet{Name: "content", Rules: []api.RuleInfo{}}
	var packs []content.Pack
	for _, in := range active {
		m := in.Manifest
		if in.Problem != "" {
			s.log.Error("content pack left out", "pack", m.Name, "version", m.Version, "err", in.Problem)
			book.Failed = append(book.Failed, fmt.Sprintf("%s %s: %s", m.Name, m.Version, in.Problem))
			continue
		}
		s.log.Info("content pack", "pack", m.Name, "version", m.Version, "created", m.Created, "key", in.Key,
			"sigma", in.Pack().Count(content.KindSigma), "yara", in.Pack().Count(content.KindYARA), "osquery", in.Pack().Count(content.KindOsquery))
		book.Rules = append(book.Rules, api.RuleInfo{ID: m.Name, Title: m.Name + " " + m.Version, File: packDir(m)})
		packs = append(packs, in.Pack())
	}
	s.rulebook.Add(book)
	return packs, nil
}

// packDir is the name a pack's files go by in rule names and errors.
func packDir(m content.Manifest) string { return path.Join("content", m.Name, m.Version) }

// auditedFile remembers the last change of changes.jsonl recorded in the
// trail. A crash between the two records a change twice, never not at all.
const auditedFile = "changes.audited"

func auditContentChanges(ctx context.Context, dir content.Dir, trail *audit.Trail) error {
	changes, err := dir.Changes()
	if err != nil || len(changes) == 0 {
		return err
	}
	mark := filepath.Join(dir.Path, auditedFile)
	done := 0
	if b, err := os.ReadFile(mark); err == nil {
		done, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("content changes: %w", err)
	}
	for _, c := range changes {
		if c.Seq <= done {
			continue
		}
		detail := map[string]any{"version": c.Version, "at": c.At}
		for k, v := range map[string]string{"previous": c.Previous, "key": c.Key, "sha256": c.SHA256} {
			if v != "" {
				detail[k] = v
			}
		}
		role := c.Role
		if role == "" {
			role = "local"
		}
		if err := trail.Record(ctx, audit.Entry{Actor: c.Actor, Role: role, Action: c.Action, Object: c.Name, Outcome: audit.OutcomeSuccess, Source: c.Source, Detail: detail}); err != nil {
			return fmt.Errorf("audit content change %d: %w", c.Seq, err)
		}
		if err := atomicfile.Write(mark, []byte(strconv.Itoa(c.Seq)+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// sigmaDirs are the Sigma rule trees: the configured directory (or the
// built-in rules), then each pack's.
func sigmaDirs(dir string, packs []content.Pack) []detect.RuleDir {
	rd := []detect.RuleDir{{FS: detections.FS, Root: "."}}
	if dir != "" {
		rd = []detect.RuleDir{{FS: os.DirFS(dir), Root: ".", Name: dir}}
	}
	for _, p := range packs {
		if p.Count(content.KindSigma) > 0 {
			rd = append(rd, detect.RuleDir{FS: p.FS(content.KindSigma), Root: ".", Name: packDir(p.Manifest)})
		}
	}
	return rd
}

// yaraFS is the YARA rules for the agents' bundle: the configured
// directory (or the built-in rules) at the top, each pack's under
// packs/NAME/.
func yaraFS(dir string, packs []content.Pack) (fs.FS, string, error) {
	if len(packs) == 0 {
		if dir != "" {
			return os.DirFS(dir), ".", nil
		}
		return rules.FS, "yara", nil
	}
	var base fs.FS = rules.FS
	root := "yara"
	if dir != "" {
		base, root = os.DirFS(dir), "."
	}
	m := fstest.MapFS{}
	err := fs.WalkDir(base, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(base, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if root == "." {
			rel = p
		}
		m[rel] = &fstest.MapFile{Data: data}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("yara rules: %w", err)
	}
	for _, p := range packs {
		for _, f := range p.Files {
			if f.Kind == content.KindYARA {
				m[path.Join("packs", p.Manifest.Name, f.Path)] = &fstest.MapFile{Data: f.Data}
			}
		}
	}
	return m, ".", nil
}

// osqueryFiles are the packs' osquery packs for the agents' signed
// bundle, under osquery/NAME/, which agents schedule through osqueryd.
func osqueryFiles(packs []content.Pack) []bundle.File {
	var out []bundle.File
	for _, p := range packs {
		for _, f := range p.Files {
			if f.Kind == content.KindOsquery {
				out = append(out, bundle.File{Path: path.Join("osquery", p.Manifest.Name, f.Path), Data: f.Data})
			}
		}
	}
	return out
}
