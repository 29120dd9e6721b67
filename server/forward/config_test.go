package forward

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/config"
)

type wrapper struct {
	Forward Config `mapstructure:"forward"`
}

func (w *wrapper) Validate() error { return w.Forward.Validate() }

func TestExampleConfigLoads(t *testing.T) {
	b, err := os.ReadFile("../../deploy/examples/forward.yml")
	if err != nil {
		t.Fatal(err)
	}
	// The file shows the city's section commented out; load each side.
	ward := string(b)
	var city strings.Builder
	for _, line := range strings.Split(ward, "\n") {
		if s, ok := strings.CutPrefix(line, "# "); ok && (strings.HasPrefix(s, "forward:") || strings.HasPrefix(s, " ")) {
			city.WriteString(s + "\n")
		}
	}
	for name, body := range map[string]string{"ward": ward, "city": city.String()} {
		path := filepath.Join(t.TempDir(), name+".yml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		w := &wrapper{Forward: DefaultConfig()}
		if err := config.Load(w, config.Options{File: path, Environ: []string{}}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "ward" && !w.Forward.Enabled() || name == "city" && len(w.Forward.Receive.Senders) != 1 {
			t.Errorf("%s section not read: %+v", name, w.Forward)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	pub := FormatPublicKey(testKey(t, 1).Public().(ed25519.PublicKey))
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"upstream without name", func(c *Config) { c.Upstream.URL = "https://city:8443" }, "forward.name"},
		{"plain http", func(c *Config) { c.Name = "w"; c.Upstream.URL = "http://city:8443" }, "want https"},
		{"bad severity", func(c *Config) { c.MinSeverity = "urgent" }, "min_severity"},
		{"backoff upside down", func(c *Config) { c.Delivery.MaxBackoff = time.Millisecond }, "max_backoff"},
		{"sender without key", func(c *Config) { c.Receive.Senders = []Sender{{Name: "w", Unit: "u"}} }, "public_key"},
		{"sender twice", func(c *Config) {
			c.Receive.Senders = []Sender{{Name: "w", Unit: "u", PublicKey: pub}, {Name: "w", Unit: "u", PublicKey: pub}}
		}, "given twice"},
		{"bad token hash", func(c *Config) {
			c.Receive.Senders = []Sender{{Name: "w", Unit: "u", PublicKey: pub, TokenSHA256: "abc"}}
		}, "token_sha256"},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
