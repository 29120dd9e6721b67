package yara

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckModules(t *testing.T) {
	allowed := []string{"pe", "elf", "math", "time"}
	unset := []string{"pe.signatures", "pe.is_signed", "pe.number_of_signatures"}
	for _, c := range []struct {
		name, src string
		want      []string // the errors, in order; none: accepted
	}{
		{"allowed imports", "import \"pe\"\nimport \"math\"\nrule a { condition: pe.is_dll() and math.entropy(0, 10) > 1 }", nil},
		{"other module", "import \"pe\"\n\nimport \"cuckoo\"\nrule a { condition: true }",
			[]string{`r.yar:3: imports module "cuckoo", which this agent's YARA does not have (it has pe, elf, math, time)`}},
		{"two modules, one line", `import "hash" import "dotnet" rule a { condition: true }`,
			[]string{`r.yar:1: imports module "hash"`, `r.yar:1: imports module "dotnet"`}},
		{"unset field", "import \"pe\"\nrule a {\n condition:\n  not pe.is_signed\n}",
			[]string{`r.yar:4: uses pe.is_signed, which this agent's YARA cannot compute`}},
		{"field in an array", "import \"pe\"\nrule a { condition: pe.signatures[0].issuer contains \"x\" }",
			[]string{`r.yar:2: uses pe.signatures`}},
		{"in comments", "// import \"cuckoo\"\n/* import \"hash\"\n pe.is_signed */\nrule a { condition: true }", nil},
		{"in strings", "rule a { meta: d = \"import \\\"cuckoo\\\" pe.is_signed\" strings: $a = \"import \\\"hash\\\"\" condition: $a }", nil},
		{"in a regular expression", "rule a { strings: $a = /import \"hash\"|pe.is_signed/ condition: $a }", nil},
		{"string named like the keyword", "rule a { strings: $import = \"x\" condition: $import and #import > 0 }", nil},
		{"line after a comment and a regex", "// c\nrule a { strings: $r = /a\\/b/ condition: $r }\n/* x\ny */\nimport \"magic\"",
			[]string{`r.yar:5: imports module "magic"`}},
		{"division is not a regex", "import \"math\"\nrule a { condition: filesize / 2 > 1 and pe.is_signed }",
			[]string{`r.yar:2: uses pe.is_signed`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkModules("r.yar", c.src, allowed, unset)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrModule) {
				t.Fatalf("got %v, want a module error", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(c.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(c.want), err)
			}
			for i, w := range c.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d: got %q, want it to start with %q", i, lines[i], w)
				}
			}
		})
	}
	if err := checkModules("r.yar", `import "cuckoo" rule a { condition: pe.is_signed }`, nil, nil); err != nil {
		t.Errorf("with no list every module is libyara's to judge: %v", err)
	}
}

func FuzzModuleUses(f *testing.F) {
	f.Add("import \"pe\"\nrule a { strings: $a = /x\\\n/ condition: pe.is_signed }")
	f.Add("/* \" */ \"\\")
	f.Fuzz(func(t *testing.T, src string) {
		lines := strings.Count(src, "\n") + 1
		for _, u := range moduleUses(src) {
			if u.line < 1 || u.line > lines || u.name == "" {
				t.Fatalf("use %+v out of a source of %d lines", u, lines)
			}
		}
	})
}
