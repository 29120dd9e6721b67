package system

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadGood(t *testing.T) {
	for _, f := range []string{"testdata/good.yml", "../../deploy/examples/systems.yml"} {
		list, err := LoadFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(list) == 0 {
			t.Fatalf("%s: no systems", f)
		}
	}
	list, _ := LoadFile("testdata/good.yml")
	s := list[0]
	if s.ID != "dvc" || s.Level != 3 || s.Name.EN != "Public service portal" || s.Layers.OnSite.Unit != "so-tttt" ||
		!s.Layers.Assessor.LastAssessment.Equal(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)) || len(s.Assets.Networks) != 2 {
		t.Fatalf("decoded %+v", s)
	}
}

func TestLoadBad(t *testing.T) {
	cases := map[string]string{
		"unknown_key.bad.yml": `testdata/unknown_key.bad.yml:7:17: systems[0].layers.on_site: unknown field "unti" (want one of unit, contact)`,
		"bad_values.bad.yml": `testdata/bad_values.bad.yml:3:16: systems[0].name.vi: the Vietnamese name is empty
testdata/bad_values.bad.yml:5:12: systems[0].level: 6: security level must be 1 to 5
testdata/bad_values.bad.yml:7:18: systems[0].assets.networks[0]: "10.20.0.1/24" has host bits set (want 10.20.0.0/24)
testdata/bad_values.bad.yml:7:32: systems[0].assets.networks[1]: "not-a-range" is not a CIDR range`,
		"wrong_type.bad.yml": `testdata/wrong_type.bad.yml:5:12: systems[0].level: "three" is not a whole number
testdata/wrong_type.bad.yml:7:35: systems[0].layers.assessor.last_assessment: "last spring" is not a date (want YYYY-MM-DD)`,
		"duplicate.bad.yml": `testdata/duplicate.bad.yml:6:9: systems[1].id: "dvc" is already given at systems[0]`,
		"alias.bad.yml": `testdata/alias.bad.yml:2:5: systems[0]: YAML anchors and aliases are not allowed
testdata/alias.bad.yml:7:5: systems[1]: YAML anchors and aliases are not allowed`,
		"syntax.bad.yml": `testdata/syntax.bad.yml:1: did not find expected '-' indicator`,
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := LoadFile(filepath.Join("testdata", name))
			if err == nil {
				t.Fatal("loaded")
			}
			if got := err.Error(); got != want {
				t.Fatalf("error\n%s\nwant\n%s", got, want)
			}
		})
	}
	if _, err := LoadFile("testdata/absent.yml"); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestPolicies(t *testing.T) {
	ps := DefaultPolicies()
	for l := 1; l <= 5; l++ {
		p, ok := ps.For(l)
		if !ok {
			t.Fatalf("no policy for level %d", l)
		}
		if _, ok := p.ResponseWithin("critical"); !ok || !p.Requires(1) {
			t.Fatalf("level %d: %+v", l, p)
		}
	}
	p3, _ := ps.For(3)
	if !p3.MustForward("high") || p3.MustForward("low") || time.Duration(p3.AssessmentInterval) != 365*24*time.Hour {
		t.Fatalf("level 3: %+v", p3)
	}
	if got, err := LoadPolicies("../../deploy/examples/policies.yml"); err != nil || len(got.Levels) != 5 {
		t.Fatalf("example policies: %v", err)
	}
	_, err := LoadPolicies("testdata/policies_missing.bad.yml")
	want := []string{
		`testdata/policies_missing.bad.yml:3:26: levels[0].required_layers[1]: 5: layers are 1 to 4, each once`,
		`testdata/policies_missing.bad.yml:3:29: levels[0].required_layers[2]: 1: layers are 1 to 4, each once`,
		`testdata/policies_missing.bad.yml:4:20: levels[0].response_time: no response time for severity "informational"`,
		`testdata/policies_missing.bad.yml:4:74: levels[0].response_time.urgent: unknown severity "urgent" (want informational, low, medium, high, critical)`,
		`testdata/policies_missing.bad.yml:6:29: levels[0].upstream.severities[0]: unknown severity "severe" (want informational, low, medium, high, critical)`,
		`testdata/policies_missing.bad.yml:6:15: levels[0].upstream.within: missing: how soon must these go upstream?`,
		`testdata/policies_missing.bad.yml:2:3: levels: no policy for level 2`,
	}
	if err == nil {
		t.Fatal("bad policies loaded")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing error %q in\n%v", w, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"5d": 120 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute} {
		got, err := ParseDuration(in)
		if err != nil || time.Duration(got) != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0d", "-1h", "d", "5 days", "1e9d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"good.yml", "unknown_key.bad.yml", "bad_values.bad.yml", "wrong_type.bad.yml", "alias.bad.yml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(defaultPolicies)
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := Parse("fuzz.yml", b)
		if err == nil {
			for _, s := range list {
				if verr := s.Validate(); verr != nil {
					t.Fatalf("parsed a system that does not validate: %v", verr)
				}
			}
		}
		_, _ = ParsePolicies("fuzz.yml", b)
	})
}
