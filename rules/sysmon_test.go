package rules

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"lachan/detections"
	"lachan/test/shareddata"
)

// sysmonEvents are the filtering elements of Sysmon's schema and the
// event IDs each turns on.
var sysmonEvents = map[string][]int{
	"ProcessCreate": {1}, "FileCreateTime": {2}, "NetworkConnect": {3}, "ProcessTerminate": {5},
	"DriverLoad": {6}, "ImageLoad": {7}, "CreateRemoteThread": {8}, "RawAccessRead": {9},
	"ProcessAccess": {10}, "FileCreate": {11}, "RegistryEvent": {12, 13, 14}, "FileCreateStreamHash": {15},
	"PipeEvent": {17, 18}, "WmiEvent": {19, 20, 21}, "DnsQuery": {22}, "FileDelete": {23},
	"ClipboardChange": {24}, "ProcessTampering": {25}, "FileDeleteDetected": {26},
	"FileBlockExecutable": {27}, "FileBlockShredding": {28}, "FileExecutableDetected": {29},
}

// sysmonAlwaysOn are logged whatever the configuration: service state
// (4), configuration change (16) and errors (255).
var sysmonAlwaysOn = []int{4, 16, 255}

var sysmonConditions = map[string]bool{
	"is": true, "is not": true, "is any": true, "contains": true, "contains any": true, "contains all": true,
	"excludes": true, "excludes any": true, "excludes all": true, "begin with": true, "not begin with": true,
	"end with": true, "not end with": true, "less than": true, "more than": true, "image": true,
}

type xmlNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []xmlNode  `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n xmlNode) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// sysmonEnabled checks the configuration's shape and returns the event
// IDs it logs: an element with onmatch="exclude" logs everything it does
// not exclude; one with onmatch="include" only what it includes, so an
// empty include logs nothing.
func sysmonEnabled(b []byte) (map[int]bool, error) {
	var root xmlNode
	if err := xml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("not well-formed XML: %w", err)
	}
	if root.XMLName.Local != "Sysmon" {
		return nil, fmt.Errorf("root element %s, want Sysmon", root.XMLName.Local)
	}
	v, _ := root.attr("schemaversion")
	if !regexp.MustCompile(`^\d+\.\d+$`).MatchString(v) {
		return nil, fmt.Errorf("schemaversion %q: want a version such as 4.90", v)
	}
	// File block and executable detection events came with schema 4.83.
	if f, _ := strconv.ParseFloat(v, 64); f < 4.83 {
		return nil, fmt.Errorf("schemaversion %s: events 27-29 need 4.83 or later", v)
	}
	enabled := map[int]bool{}
	for _, id := range sysmonAlwaysOn {
		enabled[id] = true
	}
	var errs []error
	var filtering *xmlNode
	for i := range root.Nodes {
		if root.Nodes[i].XMLName.Local == "EventFiltering" {
			filtering = &root.Nodes[i]
		}
	}
	if filtering == nil {
		return nil, errors.New("no EventFiltering element")
	}
	for _, group := range filtering.Nodes {
		if group.XMLName.Local != "RuleGroup" {
			errs = append(errs, fmt.Errorf("EventFiltering holds %s, want RuleGroup", group.XMLName.Local))
			continue
		}
		if rel, _ := group.attr("groupRelation"); rel != "or" && rel != "and" {
			errs = append(errs, fmt.Errorf("RuleGroup groupRelation %q", rel))
		}
		for _, ev := range group.Nodes {
			ids, ok := sysmonEvents[ev.XMLName.Local]
			if !ok {
				errs = append(errs, fmt.Errorf("unknown event element %s", ev.XMLName.Local))
				continue
			}
			on, _ := ev.attr("onmatch")
			if on != "include" && on != "exclude" {
				errs = append(errs, fmt.Errorf("%s onmatch %q", ev.XMLName.Local, on))
				continue
			}
			for _, cond := range ev.Nodes {
				c, _ := cond.attr("condition")
				if !sysmonConditions[c] {
					errs = append(errs, fmt.Errorf("%s/%s: condition %q", ev.XMLName.Local, cond.XMLName.Local, c))
				}
				if strings.TrimSpace(cond.Text) == "" {
					errs = append(errs, fmt.Errorf("%s/%s: empty value", ev.XMLName.Local, cond.XMLName.Local))
				}
			}
			if on == "exclude" || len(ev.Nodes) > 0 {
				for _, id := range ids {
					enabled[id] = true
				}
			}
		}
	}
	return enabled, errors.Join(errs...)
}

func TestSysmonConfigShape(t *testing.T) {
	b, err := FS.ReadFile(SysmonConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sysmonEnabled(b); err != nil {
		t.Fatalf("%s: %v", SysmonConfig, err)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"not XML", "<Sysmon", "not well-formed"},
		{"no version", `<Sysmon><EventFiltering/></Sysmon>`, "schemaversion"},
		{"old schema", `<Sysmon schemaversion="4.22"><EventFiltering/></Sysmon>`, "need 4.83"},
		{"unknown event", `<Sysmon schemaversion="4.90"><EventFiltering><RuleGroup groupRelation="or"><ProcessCreat onmatch="exclude"/></RuleGroup></EventFiltering></Sysmon>`, "unknown event element ProcessCreat"},
		{"bad condition", `<Sysmon schemaversion="4.90"><EventFiltering><RuleGroup groupRelation="or"><ProcessCreate onmatch="exclude"><Image condition="ends with">x</Image></ProcessCreate></RuleGroup></EventFiltering></Sysmon>`, `condition "ends with"`},
	} {
		if _, err := sysmonEnabled([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
	}
	// An empty include logs nothing.
	got, err := sysmonEnabled([]byte(`<Sysmon schemaversion="4.90"><EventFiltering><RuleGroup groupRelation="or"><ImageLoad onmatch="include"/><DnsQuery onmatch="exclude"/></RuleGroup></EventFiltering></Sysmon>`))
	if err != nil || got[7] || !got[22] {
		t.Errorf("empty include: %v %v", got, err)
	}
}

// TestSysmonConfigCoversSigmaHQ reads every SigmaHQ Windows rule, works
// out the Sysmon event IDs it reads (its category through the Sysmon
// entries of detections/logsources.yml, or the EventID of a
// service: sysmon rule), and requires the configuration to log each.
func TestSysmonConfigCoversSigmaHQ(t *testing.T) {
	dir := filepath.Join(shareddata.Dir(t), "sigma", "sigmahq")
	b, err := FS.ReadFile(SysmonConfig)
	if err != nil {
		t.Fatal(err)
	}
	enabled, err := sysmonEnabled(b)
	if err != nil {
		t.Fatal(err)
	}
	byCategory, err := sysmonCategories()
	if err != nil {
		t.Fatal(err)
	}
	need := map[int][]string{} // event ID -> rules that read it
	rules := 0
	for _, tree := range []string{"rules", "rules-threat-hunting", "rules-emerging-threats", "rules-compliance", "rules-dfir"} {
		root := filepath.Join(dir, tree, "windows")
		if _, err := os.Stat(root); err != nil {
			continue
		}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yml") {
				return err
			}
			ids, err := sysmonIDsOf(path, byCategory)
			if err != nil {
				return err
			}
			rules++
			for _, id := range ids {
				need[id] = append(need[id], filepath.Base(path))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if rules < 1000 || len(need) < 15 {
		t.Fatalf("read %d Windows rules needing %d Sysmon events: not the SigmaHQ tree", rules, len(need))
	}
	ids := make([]int, 0, len(need))
	for id := range need {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if !enabled[id] {
			t.Errorf("Sysmon event %d is not logged; %d rules read it (e.g. %s)", id, len(need[id]), need[id][0])
		}
	}
	t.Logf("%d SigmaHQ Windows rules; Sysmon events they read: %v", rules, ids)
}

// sysmonCategories maps each Windows category to the Sysmon event IDs
// detections/logsources.yml gives it.
func sysmonCategories() (map[string][]int, error) {
	b, err := detections.FS.ReadFile(detections.LogSourcesFile)
	if err != nil {
		return nil, err
	}
	var f struct {
		Sources []struct {
			Logsource map[string]string `yaml:"logsource"`
			Datasets  []string          `yaml:"datasets"`
			Where     map[string][]any  `yaml:"where"`
		} `yaml:"sources"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", detections.LogSourcesFile, err)
	}
	out := map[string][]int{}
	for _, s := range f.Sources {
		if s.Logsource["product"] == "windows" && slices.Contains(s.Datasets, "windows.sysmon") {
			for _, id := range s.Where["EventID"] {
				if n, ok := id.(int); ok {
					out[s.Logsource["category"]] = append(out[s.Logsource["category"]], n)
				}
			}
		}
	}
	return out, nil
}

// sysmonIDsOf returns the Sysmon event IDs one rule reads.
func sysmonIDsOf(path string, byCategory map[string][]int) ([]int, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(src)))
	var r struct {
		Logsource map[string]string `yaml:"logsource"`
		Detection map[string]any    `yaml:"detection"`
	}
	if err := dec.Decode(&r); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Logsource["product"] != "windows" {
		return nil, nil
	}
	if r.Logsource["service"] == "sysmon" {
		var ids []int
		collectEventIDs(r.Detection, &ids)
		return ids, nil
	}
	return byCategory[r.Logsource["category"]], nil
}

func collectEventIDs(v any, out *[]int) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "EventID" {
				switch x := x.(type) {
				case int:
					*out = append(*out, x)
				case []any:
					for _, e := range x {
						if n, ok := e.(int); ok {
							*out = append(*out, n)
						}
					}
				}
				continue
			}
			collectEventIDs(x, out)
		}
	case []any:
		for _, x := range v {
			collectEventIDs(x, out)
		}
	}
}
