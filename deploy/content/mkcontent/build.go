package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing/fstest"

	"lachan/detections"
	"lachan/rules"
	"lachan/server/content"
	"lachan/server/detect"
)

// Sources says where the rule sets are.
type Sources struct {
	// Data is the third-party data directory (sigma/sigmahq, yara/...).
	Data string
	// Osquery is a directory of osquery packs to ship instead of the
	// project's own; OsquerySource and OsqueryLicence describe them.
	Osquery, OsquerySource, OsqueryLicence string
}

// sigmaTrees are the SigmaHQ folders shipped: the maintained rules and
// those for named threats (campaigns, exploits). Hunting, compliance and
// placeholder rules are left to the city to add.
var sigmaTrees = []string{"rules", "rules-emerging-threats"}

// yaraSet is one YARA rule set: its folder under yara/ in the data, the
// folder its rules take in the pack, and what its licence is called.
type yaraSet struct {
	dir, rules, as, licence string
}

var yaraSets = []yaraSet{
	{dir: "signature-base", rules: "signature-base/yara", as: "signature-base", licence: "Detection Rule License (DRL) 1.1"},
	{dir: "yara-rules", rules: "yara-rules", as: "yara-rules", licence: "GNU General Public License, version 2"},
}

// ownPacks are the project's osquery packs shipped by default.
var ownPacks = []string{"incident-response.conf", "it-compliance.conf", "vuln-management.conf"}

// nonCommercial finds a licence that forbids commercial use (Creative
// Commons NC): such rules may not go into a product cities buy.
var nonCommercial = regexp.MustCompile(`(?i)creativecommons\.org/licenses/by-nc|\bCC[ -]BY-NC\b|non-?commercial`)

// includeLine is a line of an index file: an include, a comment or
// nothing. An index is a set's list of its files, which the pack has as
// files of their own.
var includeLine = regexp.MustCompile(`^\s*(include\s+"[^"]*"\s*)?(//.*)?$`)

// Build collects the default pack's parts, leaves out what does not
// load or may not be shipped (naming each in the manifest), and checks
// the result as `lachan rules update` would.
func Build(m content.Manifest, src Sources) (content.Pack, content.Report, error) {
	sigma, err := sigmaSource(src.Data)
	if err != nil {
		return content.Pack{}, content.Report{}, err
	}
	yara, yaraLeft, err := yaraSource(src.Data)
	if err != nil {
		return content.Pack{}, content.Report{}, err
	}
	osq, err := osquerySource(src)
	if err != nil {
		return content.Pack{}, content.Report{}, err
	}
	p, err := content.Build(m.Name, m.Version, m.Created, []content.Source{sigma, yara, osq})
	if err != nil {
		return content.Pack{}, content.Report{}, err
	}
	p = p.LeaveOut(content.KindYARA, yaraLeft)
	ls, err := detect.LoadLogSources(detections.FS, detections.LogSourcesFile)
	if err != nil {
		return content.Pack{}, content.Report{}, err
	}
	builtin, errs := detect.Load(detections.FS, ".", ls)
	if len(errs) > 0 {
		return content.Pack{}, content.Report{}, fmt.Errorf("built-in detections: %w", errors.Join(errs...))
	}
	chk := content.Checker{LogSources: ls, Known: builtin.Rules()}
	p = chk.LeaveOut(p)
	p = p.LeaveOut(content.KindSigma, sameIDs(p, builtin.Rules(), ls))
	rep := chk.Check(p)
	if !rep.OK() {
		return p, rep, fmt.Errorf("the default pack does not pass its checks: %w", errors.Join(rep.Errors...))
	}
	return p, rep, nil
}

// sameIDs are the pack's Sigma files whose rule IDs the built-in
// detections use already: the server runs the built-in rule and would
// report the pack's copy as a duplicate.
func sameIDs(p content.Pack, builtin []*detect.Rule, ls detect.LogSources) map[string]string {
	ids := map[string]string{}
	for _, r := range builtin {
		ids[r.ID] = r.File
	}
	e, _ := detect.LoadDirs([]detect.RuleDir{{FS: p.FS(content.KindSigma), Root: "."}}, ls, detect.DefaultConfig())
	out := map[string]string{}
	for _, r := range e.Rules() {
		if f, ok := ids[r.ID]; ok {
			out[r.File] = fmt.Sprintf("sigma/%s: rule id %s is the built-in detections/%s, which runs instead", r.File, r.ID, f)
		}
	}
	return out
}

func sigmaSource(data string) (content.Source, error) {
	dir := filepath.Join(data, "sigma", "sigmahq")
	origin, err := sourceLine(filepath.Join(dir, "SOURCE.txt"))
	if err != nil {
		return content.Source{}, err
	}
	notice, err := os.ReadFile(filepath.Join(dir, "LICENSE"))
	if err != nil {
		return content.Source{}, err
	}
	// SigmaHQ's LICENSE names the DRL 1.1 without its text; signature-base
	// ships the same licence in full.
	drl, err := os.ReadFile(filepath.Join(data, "yara", "signature-base", "LICENSE"))
	if err != nil {
		return content.Source{}, err
	}
	if !strings.Contains(string(drl), "Detection Rule License (DRL) 1.1") {
		return content.Source{}, errors.New("yara/signature-base/LICENSE is not the DRL 1.1 text")
	}
	m := fstest.MapFS{}
	for _, tree := range sigmaTrees {
		if err := copyTree(m, os.DirFS(dir), tree, tree, nil); err != nil {
			return content.Source{}, err
		}
	}
	licence := fmt.Sprintf("SigmaHQ detection rules (%s), by the SigmaHQ project and the authors each rule names in its author field; folders %s.\n\n%s\n\nThe Detection Rule License 1.1 in full:\n\n%s",
		origin, strings.Join(sigmaTrees, ", "), strings.TrimSpace(string(notice)), strings.TrimSpace(string(drl)))
	return content.Source{Kind: content.KindSigma, FS: m, Root: ".", Origin: origin, Licence: licence}, nil
}

// yaraSource collects both sets under their names, and what it leaves
// out with the reason, keyed by the path in the pack.
func yaraSource(data string) (content.Source, map[string]string, error) {
	rejected, err := cliRejected(filepath.Join(data, "yara", "yara-4.2.3-compile-errors.txt"))
	if err != nil {
		return content.Source{}, nil, err
	}
	m := fstest.MapFS{}
	left := map[string]string{}
	var origins, licences []string
	for _, set := range yaraSets {
		dir := filepath.Join(data, "yara", set.dir)
		origin, err := sourceLine(filepath.Join(dir, "SOURCE.txt"))
		if err != nil {
			return content.Source{}, nil, err
		}
		lic, err := os.ReadFile(filepath.Join(dir, "LICENSE"))
		if err != nil {
			return content.Source{}, nil, err
		}
		origins = append(origins, fmt.Sprintf("%s/: %s", set.as, origin))
		licences = append(licences, fmt.Sprintf("==== %s/ — %s (%s), by the authors each rule names in its meta ====\n\n%s", set.as, origin, set.licence, strings.TrimSpace(string(lic))))
		skip := func(rel string, b []byte) string {
			ref := path.Join(set.rules, rel) // as the CLI's errors name it
			switch {
			case rejected[ref] != "":
				return "rejected by the yara 4.2.3 CLI: " + rejected[ref]
			case strings.HasPrefix(rel, "deprecated/"):
				return "deprecated by the rule set"
			case includesOnly(b):
				return "an index of include lines; its rules are in the pack as their own files"
			case nonCommercial.Match(b):
				return "its licence (Creative Commons NonCommercial) forbids commercial use"
			}
			return ""
		}
		err = copyTree(m, os.DirFS(filepath.Join(data, "yara")), set.rules, set.as, func(rel string, b []byte) bool {
			if !strings.HasSuffix(rel, ".yar") && !strings.HasSuffix(rel, ".yara") {
				return false
			}
			if why := skip(rel, b); why != "" {
				left[path.Join(set.as, rel)] = fmt.Sprintf("yara/%s: %s", path.Join(set.as, rel), why)
				return false
			}
			return true
		})
		if err != nil {
			return content.Source{}, nil, err
		}
	}
	// Left-out files are not copied; LeaveOut records them in the manifest.
	return content.Source{Kind: content.KindYARA, FS: m, Root: ".", Origin: strings.Join(origins, "; "), Licence: strings.Join(licences, "\n\n")}, left, nil
}

func osquerySource(src Sources) (content.Source, error) {
	if src.Osquery != "" {
		if src.OsqueryLicence == "" {
			return content.Source{}, errors.New("-osquery needs -osquery-licence, the packs' licence file")
		}
		lic, err := os.ReadFile(src.OsqueryLicence)
		if err != nil {
			return content.Source{}, err
		}
		return content.Source{Kind: content.KindOsquery, FS: os.DirFS(src.Osquery), Root: ".", Origin: src.OsquerySource, Licence: string(lic)}, nil
	}
	m := fstest.MapFS{}
	for _, f := range ownPacks {
		b, err := fs.ReadFile(rules.FS, "osquery/"+f)
		if err != nil {
			return content.Source{}, err
		}
		m[f] = &fstest.MapFile{Data: b}
	}
	return content.Source{Kind: content.KindOsquery, FS: m, Root: ".",
		Origin:  "Lá Chắn rules/osquery (the project's own packs for these purposes; osquery's packs of the same names are not included)",
		Licence: "Written by the Lá Chắn project for the purposes of osquery's incident-response, it-compliance and vuln-management packs, without their text; shipped under the terms of Lá Chắn itself."}, nil
}

// copyTree copies the files under root in fsys into m under as/, those
// keep says yes to (nil: every file).
func copyTree(m fstest.MapFS, fsys fs.FS, root, as string, keep func(rel string, b []byte) bool) error {
	return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if keep == nil || keep(rel, b) {
			m[path.Join(as, rel)] = &fstest.MapFile{Data: b}
		}
		return nil
	})
}

// cliRejected reads the yara CLI's compile errors: "FILE: message" per
// line, FILE relative to yara/.
func cliRejected(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, msg, ok := strings.Cut(sc.Text(), ": ")
		if ok && out[name] == "" {
			out[name] = msg
		}
	}
	return out, sc.Err()
}

func includesOnly(b []byte) bool {
	text := blockComment.ReplaceAllString(string(b), "")
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if !includeLine.MatchString(l) {
			return false
		}
		if strings.Contains(l, "include") {
			n++
		}
	}
	return n > 0
}

var blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)

// sourceLine is the first line of a SOURCE.txt: "owner/repo @ commit".
func sourceLine(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(line), nil
}

func summary(m content.Manifest) string {
	var parts []string
	for _, p := range m.Parts {
		parts = append(parts, fmt.Sprintf("%s %d files (%d left out)", p.Kind, p.Files, len(p.LeftOut)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
