package action

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"no ttl", func(c *Config) { c.TTL = 0 }, "ttl"},
		{"max below ttl", func(c *Config) { c.MaxTTL = time.Hour }, "max_ttl"},
		{"above a week", func(c *Config) { c.MaxTTL = 8 * 24 * time.Hour }, "max_ttl"},
		{"level", func(c *Config) { c.TwoPersonLevel = 6 }, "two_person_level"},
		{"kind", func(c *Config) { c.TwoPersonKinds = []string{"reboot"} }, "two_person_kinds"},
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
