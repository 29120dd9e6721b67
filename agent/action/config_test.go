package action

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"dns", func(c *Config) { c.DNS = []string{"dns.local"} }, "actions.dns[0]"},
		{"allow network", func(c *Config) { c.Allow = []string{"10.0.0.0/8", "2001:db8::1"} }, ""},
		{"allow junk", func(c *Config) { c.Allow = []string{"10.0.0.0/8", "everything"} }, "actions.allow[1]"},
		{"cap", func(c *Config) { c.CollectMaxBytes = 0 }, "collect_max_bytes"},
		{"cap too big", func(c *Config) { c.CollectMaxBytes = 1 << 30 }, "collect_max_bytes"},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
