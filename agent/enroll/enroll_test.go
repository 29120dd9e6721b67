package enroll

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"lachan/agent/client"
)

func TestParseFingerprint(t *testing.T) {
	const fp = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ in, want, err string }{
		{in: fp, want: fp},
		{in: strings.ToUpper(fp), want: fp},
		{in: "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef", want: fp},
		{in: " " + fp + "\n", want: fp},
		{in: fp[:60], err: "64 hex digits"},
		{in: "zz" + fp[2:], err: "not hexadecimal"},
		{in: "", err: "64 hex digits"},
	} {
		got, err := ParseFingerprint(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseFingerprint(%q) = %q, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseFingerprint(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestServerURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "soc.hcm.gov.vn:8443", want: "https://soc.hcm.gov.vn:8443"},
		{in: "https://10.0.0.5:8443/", want: "https://10.0.0.5:8443"},
		{in: "[::1]:8443", want: "https://[::1]:8443"},
		{in: "soc.hcm.gov.vn", err: "HOST:PORT"},
		{in: "http://soc:8443", err: "HTTPS only"},
		{in: "soc:8443/path", err: "HOST:PORT"},
		{in: "user@soc:8443", err: "HOST:PORT"},
		{in: "", err: "required"},
	} {
		got, err := ServerURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ServerURL(%q) = %q, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ServerURL(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestRender(t *testing.T) {
	base := `# installed default
state_dir: /var/lib/lachan-agent
server:
  url: ""
  ca_file: /var/lib/lachan-agent/server-ca.pem
  enroll_code: OLD-CODE
yara:
  watch_defaults: true # the users' folders
`
	for _, tc := range []struct {
		name string
		base string
		s    Settings
		want map[string]string
		gone []string
	}{
		{"secret into the installed file", base, Settings{URL: "https://soc:8443", CASHA256: "ab", CAFile: "/x.pem", Secret: "s3cret"},
			map[string]string{"url": "https://soc:8443", "ca_sha256": "ab", "ca_file": "/var/lib/lachan-agent/server-ca.pem", "enroll_secret": "s3cret"},
			[]string{"enroll_code"}},
		{"enrolled: no credential kept", base, Settings{URL: "https://soc:8443", CASHA256: "ab"},
			map[string]string{"url": "https://soc:8443"}, []string{"enroll_code", "enroll_secret"}},
		{"no file yet", "", Settings{URL: "https://soc:8443", CASHA256: "ab", CAFile: "/x.pem", Code: "C"},
			map[string]string{"ca_file": "/x.pem", "enroll_code": "C"}, []string{"enroll_secret"}},
		{"empty server section", "server:\n", Settings{URL: "https://soc:8443", CAFile: "/x.pem"},
			map[string]string{"url": "https://soc:8443", "ca_file": "/x.pem"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Render([]byte(tc.base), tc.s)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Server map[string]string `yaml:"server"`
			}
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for k, v := range tc.want {
				if got.Server[k] != v {
					t.Errorf("server.%s = %q, want %q\n%s", k, got.Server[k], v, out)
				}
			}
			for _, k := range tc.gone {
				if _, ok := got.Server[k]; ok {
					t.Errorf("server.%s kept\n%s", k, out)
				}
			}
			if tc.base == base && (!strings.Contains(string(out), "# installed default") || !strings.Contains(string(out), "# the users' folders")) {
				t.Errorf("comments lost:\n%s", out)
			}
		})
	}
	for _, bad := range []string{"- a list\n", "server: [1, 2]\n", "server: {\n"} {
		if _, err := Render([]byte(bad), Settings{URL: "u"}); err == nil {
			t.Errorf("Render(%q) took it", bad)
		}
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("%w: x", ErrUnreachable), true},
		{fmt.Errorf("enroll: %w", &client.Error{Status: 503}), true},
		{fmt.Errorf("enroll: %w", &client.Error{Status: 429}), true},
		{fmt.Errorf("enroll: %w", &client.Error{Status: 401}), false},
		{&url.Error{Op: "Post", URL: "u", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true},
		{fmt.Errorf("%w: bad", ErrFingerprint), false},
		{errors.New("state directory: permission denied"), false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
