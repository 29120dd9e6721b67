package console

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLocalPath(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/incidents?status=new", "/incidents?status=new"},
		{"", "/"},
		{"https://evil.example/", "/"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"/x\r\nSet-Cookie: a=b", "/"},
		{"javascript:alert(1)", "/"},
	}
	for _, c := range cases {
		if got := localPath(c.in); got != c.want {
			t.Errorf("localPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestVisible(t *testing.T) {
	cases := []struct{ in, want string }{
		{"pc-01", "pc-01"},
		{"Phường Bến Thành", "Phường Bến Thành"},
		{"a\x1b[31mb", `a\u001b[31mb`},
		{"x\u202ey", `x\u202ey`},
		{"tab\there", `tab\u0009here`},
	}
	for _, c := range cases {
		if got := visible(c.in); got != c.want {
			t.Errorf("visible(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCSRFTokenIsPerSession(t *testing.T) {
	a, b := csrfFor("lcs_a"), csrfFor("lcs_b")
	if a == b || a == "" || strings.Contains(a, "lcs_") {
		t.Errorf("tokens %q %q", a, b)
	}
	if sessionMaxAge(time.Now().Add(-time.Second), time.Now()) != -1 {
		t.Error("an ended session keeps its cookie")
	}
}

func TestQueueShowsOpenByDefault(t *testing.T) {
	cases := []struct{ q, want string }{
		{"", "new,acknowledged,in_progress"},
		{"status=", ""},
		{"status=open", "new,acknowledged,in_progress"},
		{"status=resolved", "resolved"},
	}
	for _, c := range cases {
		v, _ := url.ParseQuery(c.q)
		f, err := parseQueueFilter(v)
		if err != nil || strings.Join(f.Status, ",") != c.want {
			t.Errorf("%q: statuses %v (%v), want %s", c.q, f.Status, err, c.want)
		}
	}
}

func TestParseQueueFilter(t *testing.T) {
	cases := []struct {
		q, err string
	}{
		{"status=new&severity=high&sort=severity&dir=asc", ""},
		{"", ""},
		{"status=closed", `status "closed": want one of`},
		{"severity=urgent", `severity "urgent"`},
		{"sort=random", `sort "random"`},
		{"q=" + strings.Repeat("x", 201), "q: at most 200 bytes"},
	}
	for _, c := range cases {
		v, _ := url.ParseQuery(c.q)
		_, err := parseQueueFilter(v)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%q: error %v, want %q", c.q, err, c.err)
		}
	}
}

// FuzzParseQueueFilter: any query string gives a filter or an error,
// and a filter's API query parses back to the same filter.
func FuzzParseQueueFilter(f *testing.F) {
	f.Add("status=new&severity=high&sort=severity&dir=asc&q=eicar")
	f.Add("status=&unit=%00&assignee=<script>")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		flt, err := parseQueueFilter(v)
		if err != nil {
			return
		}
		av := flt.api(50)
		if len(flt.Status) == 0 {
			av["status"] = []string{""} // any, as the form sends it
		}
		again, err := parseQueueFilter(av)
		if err != nil {
			t.Fatalf("the API query of %q does not parse: %v", q, err)
		}
		if strings.Join(again.Status, ",") != strings.Join(flt.Status, ",") || again.Q != flt.Q {
			t.Fatalf("%q: %+v then %+v", q, flt, again)
		}
	})
}

// FuzzVisible: the result never holds a control character.
func FuzzVisible(f *testing.F) {
	f.Add("a\x1b[31mb\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range visible(s) {
			if hidden(r) && r != '\uFFFD' {
				t.Fatalf("visible(%q) keeps %U", s, r)
			}
		}
	})
}
