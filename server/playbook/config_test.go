package playbook

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.TwoPersonLevel, c.TwoPersonActions, c.ApproveRole, c.ProtectedNetworks = 7, []string{"isolat"}, "auditor", []string{"10.0.0.0/33"}
	err := c.Validate()
	for _, want := range []string{"two_person_level must be a cấp độ", `unknown action "isolat"`, "approve_role must be one of", "protected_networks"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// TestBlockable: an address from an alert is blocked only when it is a
// plain remote address outside the protected networks.
func TestBlockable(t *testing.T) {
	c := DefaultConfig()
	c.ProtectedNetworks = []string{"10.20.0.0/24", "203.0.113.9"}
	m := &machine{policy: c.Policy()}
	own := []string{"10.20.4.31"}
	for addr, want := range map[string]string{
		"203.0.113.45": "", "::ffff:203.0.113.45": "",
		"203.0.113.9": "protected network 203.0.113.9/32", "10.20.0.53": "protected network 10.20.0.0/24",
		"10.20.4.31": "the PC's own", "127.0.0.1": "loopback", "::1": "loopback", "0.0.0.0": "unspecified",
		"fe80::1": "link-local", "224.0.0.1": "multicast", "pc-01": "not an IP address", "": "not an IP address",
	} {
		err := m.blockable(addr, own)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", addr, err, want)
		}
	}
}
