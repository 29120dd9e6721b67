package mask

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"lachan/server/store"
	"lachan/server/store/embedded"
)

var testKey = []byte("0123456789abcdef-test-key")

func newMasker(t *testing.T, tab Table) *Masker {
	t.Helper()
	m, err := New(DefaultPolicy(), testKey, tab)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var tokenRe = regexp.MustCompile(`^[a-z]+-[0-9a-f]{16}$`)

func TestStringMasksPersonalData(t *testing.T) {
	m := newMasker(t, nil)
	cases := []struct {
		name, in string
		gone     []string // must not survive
		kept     []string // must survive
		types    []string // token types expected
	}{
		{"name with diacritics", "Người dùng Nguyễn Văn An đăng nhập", []string{"Nguyễn Văn An"}, []string{"Người dùng", "đăng nhập"}, []string{"person-"}},
		{"four-word name", "báo cáo của Trần Thị Bích Ngọc.", []string{"Trần Thị Bích Ngọc"}, []string{"báo cáo của", "."}, []string{"person-"}},
		{"cccd", "CCCD 079203001234 cấp tại TP.HCM", []string{"079203001234"}, []string{"CCCD ", " cấp tại"}, []string{"cccd-"}},
		{"mobile spaced", "gọi 0912 345 678 nhé", []string{"0912 345 678"}, []string{"gọi ", " nhé"}, []string{"phone-"}},
		{"mobile +84", "SĐT:+84 912 345 678", []string{"912 345 678"}, []string{"SĐT:"}, []string{"phone-"}},
		{"landline", "tổng đài 028 3822 1234", []string{"3822 1234"}, nil, []string{"phone-"}},
		{"two phones", "0912345678,0987654321", []string{"0912345678", "0987654321"}, []string{","}, []string{"phone-"}},
		{"email", "gửi an.nguyen@benthanh.hochiminhcity.gov.vn", []string{"an.nguyen@", "hochiminhcity"}, []string{"gửi "}, []string{"email-"}},
		{"internal ip", "kết nối từ 10.1.2.3 tới 8.8.8.8", []string{"10.1.2.3"}, []string{"8.8.8.8"}, []string{"ip-"}},
		{"nothing personal", "rule EICAR matched on pc-01", nil, []string{"rule EICAR matched on pc-01"}, nil},
		{"not a phone: 12 digits", "số 123456789012", []string{"123456789012"}, nil, []string{"cccd-"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := m.Session().String(c.in)
			for _, g := range c.gone {
				if strings.Contains(got, g) {
					t.Errorf("%q survived in %q", g, got)
				}
			}
			for _, k := range c.kept {
				if !strings.Contains(got, k) {
					t.Errorf("%q lost from %q", k, got)
				}
			}
			for _, ty := range c.types {
				if !strings.Contains(got, ty) {
					t.Errorf("no %s token in %q", ty, got)
				}
			}
			if c.types == nil && got != c.in {
				t.Errorf("changed %q to %q", c.in, got)
			}
		})
	}
}

func TestTokensAreStableKeyedAndNormalised(t *testing.T) {
	m := newMasker(t, nil)
	a := m.Token("phone", "+84 912 345 678")
	if b := m.Token("phone", "0912345678"); a != b {
		t.Errorf("same phone, two tokens: %s %s", a, b)
	}
	if b := m.Token("phone", "0912.345.679"); a == b {
		t.Error("different phones share a token")
	}
	if !tokenRe.MatchString(a) || !IsToken(a) {
		t.Errorf("token %q has the wrong shape", a)
	}
	if m.Token("user", "Admin") != m.Token("user", "admin") {
		t.Error("user accounts are compared case-insensitively")
	}
	other, _ := New(DefaultPolicy(), []byte("another-key-0123456789"), nil)
	if other.Token("phone", "0912345678") == a {
		t.Error("the token does not depend on the key")
	}
	if _, err := New(nil, []byte("short"), nil); err == nil {
		t.Error("short key accepted")
	}
}

func TestFieldsMaskedByNameAndPattern(t *testing.T) {
	m := newMasker(t, nil)
	s := m.Session()
	in := map[string]any{
		"user.name":            "nva",
		"user.full_name":       "Nguyễn Văn An",
		"user.email":           "an@phuong.gov.vn",
		"source.ip":            "192.168.1.20",
		"destination.ip":       "203.0.113.9",
		"host.ip":              []any{"10.0.0.5", "203.0.113.10"},
		"process.command_line": `net user nva /add /comment:"Trần Thị Bích Ngọc 0987654321"`,
		"event.count":          int64(3),
	}
	out := s.Fields(in)
	for _, f := range []string{"user.name", "user.full_name", "user.email", "source.ip"} {
		if v, _ := out[f].(string); !tokenRe.MatchString(v) {
			t.Errorf("%s = %v, want a token", f, out[f])
		}
	}
	if out["user.name"] != m.Token("user", "nva") {
		t.Errorf("user.name token %v is not the keyed pseudonym", out["user.name"])
	}
	if out["destination.ip"] != "203.0.113.9" || out["event.count"] != int64(3) {
		t.Errorf("non-personal values changed: %v %v", out["destination.ip"], out["event.count"])
	}
	ips := out["host.ip"].([]any)
	if !strings.HasPrefix(ips[0].(string), "ip-") || ips[1] != "203.0.113.10" {
		t.Errorf("host.ip = %v", ips)
	}
	cl := out["process.command_line"].(string)
	for _, g := range []string{"Trần", "Ngọc", "0987654321"} {
		if strings.Contains(cl, g) {
			t.Errorf("%q survived in command line %q", g, cl)
		}
	}
	if !strings.Contains(cl, "net user") {
		t.Errorf("command line mangled: %q", cl)
	}
	if in["user.name"] != "nva" {
		t.Error("input map changed")
	}
}

func TestReidentifyThroughStore(t *testing.T) {
	st, err := embedded.Open(embeddedCfg(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	tab := NewStoreTable(st)
	m := newMasker(t, tab)
	s := m.Session()
	masked := s.String("Nguyễn Văn An, CCCD 079203001234")
	tok := m.Token("person", "Nguyễn Văn An")
	if !strings.Contains(masked, tok) {
		t.Fatalf("masked %q lacks %s", masked, tok)
	}
	if _, err := tab.Lookup(ctx, tok); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token known before Commit: %v", err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := tab.Lookup(ctx, tok)
	if err != nil || e.Value != "Nguyễn Văn An" || e.Type != "person" {
		t.Fatalf("lookup %s = %+v, %v", tok, e, err)
	}
	e, err = tab.Lookup(ctx, m.Token("cccd", "079203001234"))
	if err != nil || e.Value != "079203001234" {
		t.Fatalf("cccd lookup = %+v, %v", e, err)
	}
	// A second session with the same values commits without error.
	s2 := m.Session()
	s2.String("Nguyễn Văn An")
	if err := s2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Lookup(ctx, "not-a-token"); err == nil {
		t.Error("malformed token looked up")
	}
}

func TestPolicyErrors(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"fields: [{field: user.name, type: 'Bad Type'}]", "fields[0]: type"},
		{"patterns: [{type: x1, regex: '('}]", "patterns[0]"},
		{"networks: [10.0.0.0/33]", "networks[0]"},
		{"unknown: 1", "field unknown not found"},
	}
	for _, c := range cases {
		_, err := ParsePolicy([]byte(c.yaml), "p.yml")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "p.yml") {
			t.Errorf("%q: err %v, want %q", c.yaml, err, c.want)
		}
	}
}

func embeddedCfg(t *testing.T) embedded.Config {
	c := embedded.DefaultConfig()
	c.Dir = filepath.Join(t.TempDir(), "store")
	c.Sync = false
	return c
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"Nguyễn Văn An 0912345678", "079203001234", "a@b.vn 10.0.0.1", "+84 28 3822 1234", ""} {
		f.Add(s)
	}
	m, _ := New(DefaultPolicy(), testKey, nil)
	f.Fuzz(func(t *testing.T, s string) {
		out := m.Session().String(s)
		if again := m.Session().String(out); again != out {
			t.Fatalf("masking is not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}

func TestExamplePolicyLoads(t *testing.T) {
	p, err := LoadPolicy("../../deploy/examples/mask.yml")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := New(p, testKey, nil)
	if got := m.Session().String(`C:\Users\nva\Desktop\a.txt`); strings.Contains(got, "nva") || !strings.Contains(got, m.Token("user", "nva")) {
		t.Errorf("profile path masked as %q", got)
	}
}
