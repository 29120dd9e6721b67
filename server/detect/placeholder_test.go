package detect

import (
	"slices"
	"strings"
	"testing"
)

// TestParsePlaceholders reads good and bad placeholder files.
func TestParsePlaceholders(t *testing.T) {
	ph, err := ParsePlaceholders("ph.yml", []byte("Admins_Workstations: [adm-ws-*, it-ws-01]\nDomainControllers: dc-*\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ph["Admins_Workstations"], []string{"adm-ws-*", "it-ws-01"}) || !slices.Equal(ph["DomainControllers"], []string{"dc-*"}) {
		t.Errorf("placeholders %v", ph)
	}
	for _, tt := range []struct{ src, want string }{
		{"- a\n", "ph.yml:1:1: placeholders: want a mapping from placeholder names to values"},
		{"a: {b: c}\n", `ph.yml:1:4: placeholder "a": want a value or a list of values`},
		{"a: [[b]]\n", `ph.yml:1:5: placeholder "a": a value must be a string`},
		{"a: x\na: y\n", `ph.yml:2:1: placeholder "a" given twice`},
		{"a: []\n", `ph.yml: detect config: placeholder "a": no values`},
		{"'%a%': x\n", `ph.yml: detect config: placeholder name "%a%": must be non-empty without %, *, ? or spaces`},
	} {
		if _, err := ParsePlaceholders("ph.yml", []byte(tt.src)); err == nil || err.Error() != tt.want {
			t.Errorf("%q: error %v, want %s", tt.src, err, tt.want)
		}
	}
}

// FuzzParsePlaceholders: any input gives placeholders that validate or an
// error naming the file.
func FuzzParsePlaceholders(f *testing.F) {
	for _, s := range []string{"a: [x, y]\n", "a: x\n", "- a\n", "a: {b: c}\n", "a: []\n", "", "a: [[b]]\n", "&x a: *x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		ph, err := ParsePlaceholders("ph.yml", []byte(src))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ph.yml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if err := (Config{Placeholders: ph}).Validate(); err != nil {
			t.Fatalf("parsed placeholders do not validate: %v", err)
		}
	})
}
