package detect

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestModifiers runs each modifier of the Sigma modifier appendix, with the
// specification's own examples where it gives them.
func TestModifiers(t *testing.T) {
	sel := func(lines string) string { return "  s:\n" + lines + "  condition: s\n" }
	tests := []struct {
		name      string
		detection string
		fields    F
		want      bool
	}{
		// re and its flags; case-sensitive by default.
		{"re", sel("    a|re: '^who.mi\\.exe$'\n"), F{"a": "whoami.exe"}, true},
		{"re case-sensitive", sel("    a|re: '^whoami'\n"), F{"a": "WHOAMI"}, false},
		{"re i", sel("    a|re|i: '^whoami'\n"), F{"a": "WHOAMI"}, true},
		{"re unanchored", sel("    a|re: 'ami'\n"), F{"a": "whoami"}, true},
		{"re m", sel("    a|re|m: '^b$'\n"), F{"a": "a\nb\nc"}, true},
		{"re without m", sel("    a|re: '^b$'\n"), F{"a": "a\nb\nc"}, false},
		{"re s", sel("    a|re|s: 'a.b'\n"), F{"a": "a\nb"}, true},
		{"re without s", sel("    a|re: 'a.b'\n"), F{"a": "a\nb"}, false},
		{"re number", sel("    a|re: '^44[0-9]+$'\n"), F{"a": 4444}, true},
		{"re list element", sel("    a|re: '^b'\n"), F{"a": []string{"a", "bc"}}, true},

		// cidr: the appendix's example.
		{"cidr", sel("    DestinationIp|cidr: 10.0.0.0/8\n"), F{"DestinationIp": "10.1.2.3"}, true},
		{"cidr outside", sel("    DestinationIp|cidr: 10.0.0.0/8\n"), F{"DestinationIp": "11.1.2.3"}, false},
		{"cidr v6", sel("    a|cidr: 'fe80::/10'\n"), F{"a": "fe80::1"}, true},
		{"cidr mapped v4", sel("    a|cidr: 192.168.0.0/16\n"), F{"a": "::ffff:192.168.1.1"}, true},
		{"cidr not an ip", sel("    a|cidr: 10.0.0.0/8\n"), F{"a": "10.host"}, false},
		{"cidr list", sel("    a|cidr: ['10.0.0.0/8', '172.16.0.0/12']\n"), F{"a": "172.20.0.1"}, true},

		// Encodings.
		{"base64", sel("    a|base64: 'cmd'\n"), F{"a": "Y21k"}, true},
		{"base64 exact case", sel("    a|base64: 'cmd'\n"), F{"a": "y21K"}, false},
		{"base64 contains", sel("    a|base64|contains: 'http://'\n"), F{"a": "xx aHR0cDovLw== yy"}, true},
		{"base64offset 0", sel("    a|base64offset|contains: 'foobar'\n"), F{"a": "AAZm9vYmFyAA"}, true},
		{"base64offset 1", sel("    a|base64offset|contains: 'foobar'\n"), F{"a": "IGZvb2Jhcg=="}, true},
		{"base64offset 2", sel("    a|base64offset|contains: 'foobar'\n"), F{"a": "ICBmb29iYXI="}, true},
		{"base64offset none", sel("    a|base64offset|contains: 'foobar'\n"), F{"a": "Zm9vYmF6"}, false},
		{"wide base64offset", sel("    a|wide|base64offset|contains: 'ping'\n"), F{"a": "cABpAG4AZwA="}, true},
		{"utf16le", sel("    a|utf16le: 'cmd'\n"), F{"a": "c\x00m\x00d\x00"}, true},
		{"wide", sel("    a|wide|contains: 'cmd'\n"), F{"a": "x\x00c\x00m\x00d\x00"}, true},
		{"utf16be", sel("    a|utf16be: 'cmd'\n"), F{"a": "\x00c\x00m\x00d"}, true},
		{"utf16 bom", sel("    a|utf16: 'cmd'\n"), F{"a": "\xff\xfec\x00m\x00d\x00"}, true},

		// windash.
		{"windash dash", sel("    a|windash|contains: ' -enc '\n"), F{"a": "ps -enc x"}, true},
		{"windash slash", sel("    a|windash|contains: ' -enc '\n"), F{"a": "ps /enc x"}, true},
		{"windash en dash", sel("    a|windash|contains: ' -enc '\n"), F{"a": "ps –enc x"}, true},
		{"windash em dash", sel("    a|windash|contains: ' -enc '\n"), F{"a": "ps —enc x"}, true},
		{"windash bar", sel("    a|windash|contains: ' -enc '\n"), F{"a": "ps ―enc x"}, true},
		{"windash other char", sel("    a|windash|contains: ' -enc '\n"), F{"a": "ps +enc x"}, false},
		{"windash inside word", sel("    a|windash: 'a-b'\n"), F{"a": "a/b"}, false},
		{"windash two", sel("    a|windash|contains|all: ['-a', '-b']\n"), F{"a": "x /a /b"}, true},

		// exists: the specification's example.
		{"exists", sel("    EventID: 4738\n    PasswordLastSet|exists: true\n"), F{"EventID": 4738, "PasswordLastSet": ""}, true},
		{"exists absent", sel("    EventID: 4738\n    PasswordLastSet|exists: true\n"), F{"EventID": 4738}, false},
		{"exists false", sel("    a|exists: false\n"), F{}, true},
		{"exists false present", sel("    a|exists: false\n"), F{"a": "x"}, false},

		// Numbers.
		{"gt", sel("    a|gt: 10\n"), F{"a": 11}, true},
		{"gt equal", sel("    a|gt: 10\n"), F{"a": 10}, false},
		{"gte", sel("    a|gte: 10\n"), F{"a": 10}, true},
		{"lt", sel("    a|lt: 10\n"), F{"a": 9.5}, true},
		{"lte", sel("    a|lte: 10\n"), F{"a": "10"}, true},
		{"lt not a number", sel("    a|lt: 10\n"), F{"a": "ten"}, false},
		{"neq", sel("    a|neq: 'x'\n"), F{"a": "y"}, true},
		{"neq equal", sel("    a|neq: 'X'\n"), F{"a": "x"}, false},
		{"neq list", sel("    a|neq: ['x', 'y']\n"), F{"a": "y"}, false},
		{"neq absent", sel("    a|neq: 'x'\n"), F{}, false},

		// Time parts.
		{"hour", sel("    t|hour: 3\n"), F{"t": "2026-11-23T03:04:05Z"}, true},
		{"hour gte", sel("    t|hour|gte: 20\n"), F{"t": "2026-11-23 21:04:05.123"}, true},
		{"month", sel("    t|month: 11\n"), F{"t": "2026-11-23T03:04:05Z"}, true},
		{"year lt", sel("    t|year|lt: 2000\n"), F{"t": "2026-11-23T03:04:05Z"}, false},

		// fieldref.
		{"fieldref", sel("    a|fieldref: b\n"), F{"a": "X", "b": "x"}, true},
		{"fieldref differs", sel("    a|fieldref: b\n"), F{"a": "x", "b": "y"}, false},
		{"fieldref missing", sel("    a|fieldref: b\n"), F{"a": "x"}, false},
		{"fieldref endswith", sel("    Image|fieldref|endswith: Name\n"), F{"Image": `C:\x\evil.exe`, "Name": "EVIL.exe"}, true},
		{"fieldref cased", sel("    a|fieldref|cased: b\n"), F{"a": "X", "b": "x"}, false},
		{"fieldref neq", sel("    a|fieldref|neq: b\n"), F{"a": "x", "b": "y"}, true},
		{"fieldref unicode", sel("    a|fieldref: b\n"), F{"a": "ĐÀ NẴNG", "b": "đà nẵng"}, true},
		{"fieldref number", sel("    a|fieldref: b\n"), F{"a": "42", "b": int64(42)}, true},
		{"fieldref list", sel("    a|fieldref: b\n"), F{"a": "", "b": []any{"x"}}, true}, // a list compares as ""
		{"fieldref cased same", sel("    a|fieldref|cased: b\n"), F{"a": "Xy", "b": "Xy"}, true},

		// cased.
		{"cased", sel("    a|cased: 'Mimi'\n"), F{"a": "Mimi"}, true},
		{"cased other case", sel("    a|cased: 'Mimi'\n"), F{"a": "mimi"}, false},
		{"cased contains", sel("    a|contains|cased: 'Kat'\n"), F{"a": "miKatz"}, true},
		{"cased wildcard", sel("    a|cased: 'M?mi*'\n"), F{"a": "Mxmikatz"}, true},

		// Keywords: fieldless values match anywhere in any field.
		{"keyword", "  kw:\n    - 'mimikatz'\n    - 'sekurlsa'\n  condition: kw\n", F{"b": "run SEKURLSA::logonpasswords"}, true},
		{"keyword none", "  kw:\n    - 'mimikatz'\n  condition: kw\n", F{"b": "benign"}, false},
		{"keyword scalar", "  kw: 'evil'\n  condition: kw\n", F{"x": 1, "b": "an evil thing"}, true},
		{"keyword number field", "  kw: 4444\n  condition: kw\n", F{"port": 4444}, true},
		{"keyword list field", "  kw: ['ab']\n  condition: kw\n", F{"l": []string{"x", "zabz"}}, true},
		{"keyword all", "  kw:\n    '|all':\n      - 'a1'\n      - 'b2'\n  condition: kw\n", F{"x": "a1", "y": "b2"}, true},
		{"keyword all missing", "  kw:\n    '|all':\n      - 'a1'\n      - 'b2'\n  condition: kw\n", F{"x": "a1"}, false},
		{"keyword re", "  kw:\n    '|re': '^a\\d$'\n  condition: kw\n", F{"x": "a1"}, true},
		{"keyword and field", "  kw: ['x']\n  s: {a: 'y'}\n  condition: kw and s\n", F{"a": "y", "b": "x"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := engineFor(t, ruleWith(tt.detection))
			got := len(e.Match(testEvent(testDataset, tt.fields))) == 1
			if got != tt.want {
				t.Errorf("match = %v, want %v\nfields %q\n%s", got, tt.want, tt.fields, tt.detection)
			}
		})
	}
}

// TestTransforms checks the value transformations against the examples of
// the modifier appendix and pySigma's base64offset reference values.
func TestTransforms(t *testing.T) {
	tests := []struct {
		raw   string
		mods  []string
		ph    Placeholders
		want  []string
		error string
	}{
		{"cmd", []string{"utf16le"}, nil, []string{"c\x00m\x00d\x00"}, ""},
		{"cmd", []string{"wide"}, nil, []string{"c\x00m\x00d\x00"}, ""},
		{"cmd", []string{"utf16be"}, nil, []string{"\x00c\x00m\x00d"}, ""},
		{"cmd", []string{"utf16"}, nil, []string{"\xff\xfec\x00m\x00d\x00"}, ""},
		{"foobar", []string{"base64offset"}, nil, []string{"Zm9vYmFy", "Zvb2Jhc", "mb29iYX"}, ""},
		{"cmd", []string{"base64"}, nil, []string{"Y21k"}, ""},
		{"c*d", []string{"base64"}, nil, nil, "base64: a value with wildcards cannot be encoded"},
		{`c\*d`, []string{"base64"}, nil, []string{"Yypk"}, ""},
		{"-a", []string{"windash"}, nil, []string{"-a", "/a", "–a", "—a", "―a"}, ""},
		{"x-y /z", []string{"windash"}, nil, []string{"x-y -z", "x-y /z", "x-y –z", "x-y —z", "x-y ―z"}, ""},
		{"-a -b -c -d -e", []string{"windash"}, nil, nil, "windash: 5 switches in one value, at most 4 supported"},
		// The specification's placeholder examples.
		{"%name%", []string{"expand"}, Placeholders{"name": {"a", "b*"}}, []string{"a", "b*"}, ""},
		{`\%plain%name%`, []string{"expand"}, Placeholders{"name": {"x"}}, []string{"%plainx"}, ""},
		// An unconfigured placeholder has no values; neither has a value
		// holding it. Names match without regard to case (viper's keys).
		{"%nope%", []string{"expand"}, Placeholders{}, nil, ""},
		{"a%nope%b", []string{"expand"}, Placeholders{"name": {"x"}}, nil, ""},
		{"%Name%", []string{"expand"}, Placeholders{"name": {"x"}}, []string{"x"}, ""},
	}
	for _, tt := range tests {
		got, err := transform([]string{tt.raw}, tt.mods, tt.ph)
		if tt.error != "" {
			if err == nil || err.Error() != tt.error {
				t.Errorf("%q %v: error %v, want %s", tt.raw, tt.mods, err, tt.error)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%q %v = %q, %v; want %q", tt.raw, tt.mods, got, err, tt.want)
		}
	}
}

// TestModifierErrors checks that misuse is reported with its position.
func TestModifierErrors(t *testing.T) {
	tests := []struct{ detection, want string }{
		{"  s:\n    a|re: '(a'\n  condition: s\n", `r.yml:6:11: selection "s": field "a": re: error parsing regexp: missing closing ): ` + "`(a`"},
		{"  s:\n    a|re: 'a(?=b)'\n  condition: s\n", `r.yml:6:11: selection "s": field "a": re: "(?=" uses PCRE syntax (look-around or backreference) that is not supported`},
		{"  s:\n    a|cidr: '10.0.0.300/8'\n  condition: s\n", `r.yml:6:13: selection "s": field "a": cidr: "10.0.0.300/8" is not a network prefix`},
		{"  s:\n    a|gt: 'ten'\n  condition: s\n", `r.yml:6:11: selection "s": field "a": gt needs a number, not "ten"`},
		{"  s:\n    a|exists: 'yes'\n  condition: s\n", `r.yml:6:15: selection "s": field "a": exists needs true or false, not "yes"`},
		{"  s:\n    a|m: 'x'\n  condition: s\n", `r.yml:6:5: selection "s": field "a": modifier "m" must follow "re"`},
		{"  s:\n    a|gt|lt: 1\n  condition: s\n", `r.yml:6:5: selection "s": field "a": modifiers "gt" and "lt" cannot be combined`},
		{"  s:\n    a|re|contains: 'x'\n  condition: s\n", `r.yml:6:5: selection "s": field "a": modifiers "re" and "contains" cannot be combined`},
		{"  s:\n    a|base64|re: 'x'\n  condition: s\n", `r.yml:6:5: selection "s": field "a": modifiers "re" and "base64" cannot be combined`},
		{"  s:\n    a|contains|all: 'x'\n  condition: s\n", `r.yml:6:5: selection "s": field "a": modifier "all" needs a list of at least two values`},
		{"  s:\n    '|exists': true\n  condition: s\n", `r.yml:6:5: selection "s": modifier "exists" needs a field name`},
		{"  s:\n    a|bogus: 'x'\n  condition: s\n", `r.yml:6:5: selection "s": field "a": unknown modifier "bogus"`},
	}
	for _, tt := range tests {
		_, err := ParseRule("r.yml", []byte(ruleWith(tt.detection)))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s\nerror: %v\nwant:  %s", tt.detection, err, tt.want)
		}
	}
}

// TestExpandPlaceholders loads a rule with placeholders with and without a
// configured placeholder map. Unconfigured, a placeholder matches nothing:
// a selection needing it is silent, a filter on it excludes nothing, and
// the rule loads with a warning at the value naming the placeholder.
func TestExpandPlaceholders(t *testing.T) {
	rule := ruleWith("  s:\n    user|expand: '%admins%'\n  condition: s\n")
	filtered := strings.Replace(ruleWith("  s:\n    action: logon\n  f:\n    host|expand:\n      - '%Jump%'\n      - 'jump-%Site%-*'\n  condition: s and not f\n"),
		"0c9b3c38", "1c9b3c38", 1)
	fsys := fstest.MapFS{"r.yml": {Data: []byte(rule)}, "f.yml": {Data: []byte(filtered)}}
	sources := LogSources{{LogSource: LogSource{Product: "test"}, Datasets: []string{testDataset}}}
	e, errs := Load(fsys, ".", sources)
	if len(errs) != 0 {
		t.Fatalf("errors %v, want both rules loaded", errs)
	}
	var warns []string
	for _, w := range e.Warnings() {
		warns = append(warns, w.Error())
	}
	want := []string{
		`f.yml:9:9: expand: placeholder %Jump% has no configured values (detect.placeholders, --placeholders); it matches nothing, so a filter on it excludes nothing`,
		`f.yml:10:9: expand: placeholder %Site% has no configured values (detect.placeholders, --placeholders); it matches nothing, so a filter on it excludes nothing`,
		`r.yml:6:18: expand: placeholder %admins% has no configured values (detect.placeholders, --placeholders); it matches nothing, so a filter on it excludes nothing`,
	}
	if !slices.Equal(warns, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(warns, "\n"), strings.Join(want, "\n"))
	}
	matches := func(e *Engine, f F) int { return len(e.Match(testEvent(testDataset, f))) }
	if n := matches(e, F{"user": "%admins%"}); n != 0 {
		t.Errorf("unconfigured placeholder matched its own text: %d alerts", n)
	}
	if n := matches(e, F{"action": "logon", "host": "jump-hn-1"}); n != 1 {
		t.Errorf("filter on unconfigured placeholders excluded an event: %d alerts, want 1", n)
	}
	e, errs = LoadWith(fsys, ".", sources, Config{Placeholders: Placeholders{"admins": {"adm_*", "root"}, "jump": {"bastion"}, "site": {"hn", "hcm"}}})
	if len(errs) != 0 || len(e.Warnings()) != 0 {
		t.Fatal(errs, e.Warnings())
	}
	for user, want := range map[string]bool{"ADM_bob": true, "root": true, "bob": false} {
		if got := matches(e, F{"user": user}) == 1; got != want {
			t.Errorf("user %q: match %v, want %v", user, got, want)
		}
	}
	for host, want := range map[string]int{"jump-hn-1": 0, "jump-hcm-2": 0, "bastion": 0, "jump-dn-1": 1} {
		if got := matches(e, F{"action": "logon", "host": host}); got != want {
			t.Errorf("host %q: %d alerts, want %d", host, got, want)
		}
	}
	if err := (Config{Placeholders: Placeholders{"x": nil}}).Validate(); err == nil {
		t.Error("a placeholder without values was accepted")
	}
}
