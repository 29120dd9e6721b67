package hunt

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// tf abbreviates the default text fields in expected trees.
var tf = "[" + strings.Join(DefaultConfig().TextFields, " ") + "]"

func TestParse(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "*"},
		{"   ", "*"},
		{"host.name:pc-01 and process.name:powershell.exe and not user.name:admin*",
			`(and (term host.name "pc-01") (term process.name "powershell.exe") (not (wildcard user.name "admin*")))`},
		{"a:1 OR b:2 AND c:3", `(or (term a "1") (and (term b "2") (term c "3")))`},
		{"(a:1 or b:2) c:3", `(and (or (term a "1") (term b "2")) (term c "3"))`},
		{"not not a:1", `(not (not (term a "1")))`},
		{"not(a:1)", `(not (term a "1"))`},
		{`user.name:"a b"`, `(term user.name "a b")`},
		{`user.name: "say \"hi\" \\ \x"`, `(term user.name "say \"hi\" \\ \\x")`},
		{`file.name:"*.exe"`, `(term file.name "*.exe")`},
		{"file.name:*.exe", `(wildcard file.name "*.exe")`},
		{"file.name:c?d*x", `(wildcard file.name "c?d*x")`},
		{`file.name:a\*b`, `(term file.name "a*b")`},
		{`file.name:a\*b*`, `(wildcard file.name "a\\*b*")`},
		{`file.path:C:\Windows\\*`, `(wildcard file.path "C:\\\\Windows\\\\*")`},
		{`file.path:C:\Windows\cmd.exe`, `(term file.path "C:\\Windows\\cmd.exe")`},
		{"file.size >= 1000", "(range file.size [1000 *)"},
		{"file.size>1000", "(range file.size 1000 *)"},
		{"file.size:<=5", "(range file.size * ]5)"},
		{"file.size < 5", "(range file.size * 5)"},
		{"@timestamp > 2026-11-01", "(range @timestamp 2026-11-01 *)"},
		{"destination.port:[1000 TO 2000]", "(range destination.port [1000 ]2000)"},
		{"destination.port:{1000 to 2000}", "(range destination.port 1000 2000)"},
		{"destination.port:[1000 TO *]", "(range destination.port [1000 *)"},
		{`user.name:["a" TO "m"}`, "(range user.name [a m)"},
		{"source.ip:10.0.0.0/8", `(cidr source.ip "10.0.0.0/8")`},
		{"related.ip:fd00::/8", `(cidr related.ip "fd00::/8")`},
		{"source.ip:10.1.2.3", `(term source.ip "10.1.2.3")`},
		{"url.path:/a/b", `(term url.path "/a/b")`},
		{"url.original:http://x/y?z", `(wildcard url.original "http://x/y?z")`},
		{"file.hash.sha256:*", "(exists file.hash.sha256)"},
		{"host.id:(a or \"b c\" or d*)", `(or (term host.id "a") (term host.id "b c") (wildcard host.id "d*"))`},
		{"host.id:(a)", `(term host.id "a")`},
		{"mimikatz", `(text ` + tf + ` "mimikatz")`},
		{`"invoke mimikatz"`, `(text ` + tf + ` "invoke mimikatz")`},
		{`mimi*`, `(text ` + tf + ` "mimi*")`},
		{"*", "(and )"},
		{"a:1 \"and\"", `(and (term a "1") (text ` + tf + ` "and"))`},
		{"Ñoño:x", `` /* not a field name: see TestParseErrors */},
	}
	for _, tc := range tests {
		if tc.want == "" {
			continue
		}
		t.Run(tc.in, func(t *testing.T) {
			x, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := x.String(); got != tc.want {
				t.Fatalf("Parse(%q)\n got %s\nwant %s", tc.in, got, tc.want)
			}
			if err := x.Validate(); err != nil {
				t.Fatalf("the parse does not validate: %v", err)
			}
			checkRoundTrip(t, defaultParser, x)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"host.name:", "column 11: expected a value after ':'"},
		{"host.name:pc-01 and process.name:", "column 34: expected a value after ':'"},
		{"(host.name: )", "column 13: expected a value after ':'"},
		{"a:1 and", "column 8: expected a query after 'and'"},
		{"a:1 or", "column 7: expected a query after 'or'"},
		{"a:1 or or b:2", "column 8: expected a query after 'or'"},
		{"and a:1", "column 1: expected a query before 'and'"},
		{"not", "column 4: expected a query after 'not'"},
		{"(a:1", "column 5: missing ')' to close the '(' at column 1"},
		{"a:1)", "column 4: unexpected ')' with no '(' open"},
		{"()", "column 2: empty parentheses"},
		{`a:"open`, "column 3: quoted value is not closed"},
		{`"open`, "column 1: quoted value is not closed"},
		{":x", "column 1: expected a field name before ':'"},
		{"> 5", "column 1: expected a field name before '>'"},
		{`a\ b:x`, `column 1: "a\\ b" is not a field name`},
		{"ñoño:x", `column 1: "ñoño" is not a field name`},
		{`"ñ" and b:`, "column 11: expected a value after ':'"},
		{"source.ip:10.0.0.0/33", `column 11: "10.0.0.0/33" is not an address prefix such as 10.0.0.0/8`},
		{"port:[1 TO x]", `column 7: bounds "1" and "x" are of different kinds (a number and a string)`},
		{"port:[1 2]", "column 9: expected 'TO' in the range that starts at column 6"},
		{"port:[1 TO 2", "column 13: expected ']' or '}' to close the range that starts at column 6"},
		{"port:[* TO *]", "column 6: a range needs at least one bound"},
		{"port:[ TO 2]", "column 8: expected a lower bound after '['"},
		{"port:[1 TO ]", "column 12: expected an upper bound after 'TO'"},
		{"size >= ", "column 9: expected a value after '>='"},
		{"size > *", "column 8: expected a value after '>'"},
		{"host.id:(a b)", "column 12: expected 'or' or ')' in the list of values that starts at column 9"},
		{"host.id:()", "column 10: expected a value after '('"},
		{"host.id:(a or", "column 14: missing ')' to close the '(' at column 9"},
		{strings.Repeat("(", 60) + "a", "column 51: nested deeper than 50 levels"},
		{strings.Repeat("not ", 60) + "a", "column 201: nested deeper than 50 levels"},
		{"a:\xff", "column 3: query is not valid UTF-8"},
		{strings.Repeat("a", 9000), "column 1: query is 9000 bytes long; at most 8192 allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.in[:min(len(tc.in), 40)], func(t *testing.T) {
			x, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error %q", tc.in, x, tc.want)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not an *Error", err)
			}
			if err.Error() != tc.want {
				t.Fatalf("Parse(%q)\n got %q\nwant %q", tc.in, err, tc.want)
			}
		})
	}
}

// TestMatch checks parsed queries against events: the parse and the
// store's evaluation together mean what an analyst expects.
func TestMatch(t *testing.T) {
	ev := event.Event{ID: "e1", Timestamp: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC), Dataset: "osquery.result"}
	ev.Set("host.name", "pc-01")
	ev.Set("process.name", "powershell.exe")
	ev.Set("process.command_line", "PowerShell -enc SQBFAFgA")
	ev.Set("user.name", "administrator")
	ev.Set("file.size", int64(1500))
	ev.Set("destination.port", int64(443))
	ev.Set("source.ip", "10.1.2.3")
	ev.Set("related.ip", []string{"192.168.1.5", "fe80::1"})
	ev.Set("file.path", `C:\Windows\System32\cmd.exe`)
	ev.Set("file.created", "2026-10-30T08:00:00Z")
	tests := []struct {
		q    string
		want bool
	}{
		{"host.name:pc-01 and process.name:powershell.exe and not user.name:admin*", false},
		{"host.name:pc-01 and process.name:powershell.exe and not user.name:guest*", true},
		{"host.name:PC-01", false},
		{"host.name:pc-0?", true},
		{"host.name:*01", true},
		{"host.name:p*-*1", true},
		{"host.name:(pc-02 or pc-01)", true},
		{"file.size >= 1500", true},
		{"file.size > 1500", false},
		{"file.size:[1000 TO 2000]", true},
		{"file.size:{1000 TO 1500}", false},
		{"destination.port:[1000 TO 2000]", false},
		{"@timestamp > 2026-11-01", true},
		{"@timestamp < 2026-11-02T10:00:00Z", false},
		{"@timestamp <= 2026-11-02T10:00:00Z", true},
		{"file.created < 2026-11-01", true},
		{"source.ip:10.0.0.0/8", true},
		{"source.ip:11.0.0.0/8", false},
		{"related.ip:192.168.0.0/16", true},
		{"related.ip:fe80::/10", true},
		{"file.hash.sha256:*", false},
		{"not file.hash.sha256:*", true},
		{"file.path:*", true},
		{`file.path:C:\Windows\\*`, true},
		{`file.path:"C:\Windows\System32\cmd.exe"`, true},
		{"-enc", true},
		{"sqbf*gA", true},
		{`"invoke mimikatz"`, false},
		{"mimikatz or cmd.exe", true},
		{"user.name:[a TO b]", true},
		{"*", true},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			x, err := Parse(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := (store.Query{Filter: x}).Match(ev); got != tc.want {
				t.Fatalf("%s (%s) matched %v, want %v", tc.q, x, got, tc.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Config{TextFields: []string{"ok", "not a field"}, MaxLength: 1, MaxDepth: 0}
	err := bad.Validate()
	for _, want := range []string{`"not a field"`, "max_length 1", "max_depth 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}
	p, err := New(Config{TextFields: []string{"message"}, MaxLength: 100, MaxDepth: 3})
	if err != nil {
		t.Fatal(err)
	}
	x, err := p.Parse("word")
	if err != nil || x.String() != `(text [message] "word")` {
		t.Fatalf("custom text fields: %v %v", x, err)
	}
	if _, err := p.Parse("((((a))))"); err == nil {
		t.Fatal("MaxDepth 3 allowed depth 4")
	}
}

// checkRoundTrip fails unless Format(x) parses back to x.
func checkRoundTrip(t *testing.T, p *Parser, x *store.Expr) {
	t.Helper()
	s := Format(x)
	y, err := p.Parse(s)
	if err != nil {
		t.Fatalf("Format gave %q, which does not parse: %v", s, err)
	}
	if x != nil && x.Op == store.OpAnd && len(x.Args) == 0 && y != nil {
		x = y // "*" and an empty and are the same filter
	}
	if !reflect.DeepEqual(x, y) {
		t.Fatalf("round trip through %q\n got %s\nwant %s", s, y, x)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"host.name:pc-01 and process.name:powershell.exe and not user.name:admin*",
		`(a:1 or b:"x y") c*`, "file.size >= 1000", "@timestamp > 2026-11-01",
		"destination.port:[1000 TO 2000}", "source.ip:10.0.0.0/8", "file.hash.sha256:*",
		`file.path:C:\Windows\\*`, `host.id:(a or "b" or c?)`, "not not (x)", `"a \" b"`, "ñ:ü",
	} {
		f.Add(s)
	}
	ev := event.Event{ID: "e", Timestamp: time.Unix(0, 0), Dataset: "d", Fields: map[string]any{
		"a": "1", "message": "x y", "source.ip": "10.0.0.1", "file.size": int64(5), "l": []any{"a", int64(2)},
	}}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Column < 1 || pe.Column > len(s)+1 {
				t.Fatalf("Parse(%q): error %v has no column within the query", s, err)
			}
			return
		}
		if err := x.Validate(); err != nil {
			t.Fatalf("Parse(%q) = %s, which does not validate: %v", s, x, err)
		}
		(store.Query{Filter: x}).Match(ev)
		checkRoundTrip(t, defaultParser, x)
	})
}
