package action

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Rule names of the agent's own in Windows Defender Firewall; release and
// unblock delete rules by these names only.
const (
	isolationRule = "LaChan isolation"
	blockRule     = "LaChan block "
)

func netsh(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "netsh", append([]string{"advfirewall"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("netsh advfirewall %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// applyIsolation blocks, in and out, every address except those the PC
// must still reach. Windows Firewall lets an allow rule through despite a
// block-by-default policy when any built-in rule allows it, but a block
// rule always wins: so isolation is block rules over the complement of
// what stays open, in ranges netsh takes. DNS servers stay reachable on
// every port this way (netsh cannot say "all but port 53" in one rule).
func applyIsolation(iso Isolation) (string, error) {
	_ = removeIsolation()
	open := append([]netip.Prefix(nil), iso.Allow...)
	for _, a := range iso.DNS {
		open = append(open, netip.PrefixFrom(a, a.BitLen()))
	}
	// DHCP's broadcast, so that the PC keeps its address.
	open = append(open, netip.MustParsePrefix("255.255.255.255/32"))
	ranges := complementRanges(open)
	if _, err := netsh("set", "allprofiles", "state", "on"); err != nil {
		return "", err
	}
	// netsh takes a bounded command line: the ranges go in chunks.
	for i := 0; i < len(ranges); i += 100 {
		chunk := strings.Join(ranges[i:min(i+100, len(ranges))], ",")
		for _, dir := range []string{"in", "out"} {
			if _, err := netsh("firewall", "add", "rule", "name="+isolationRule, "dir="+dir, "action=block", "enable=yes",
				"profile=any", "remoteip="+chunk); err != nil {
				_ = removeIsolation()
				return "", err
			}
		}
	}
	return "Windows Defender Firewall rules \"" + isolationRule + "\"", nil
}

// removeIsolation deletes the isolation rules. netsh fails when there are
// none, in the language of the PC's Windows: so a failed delete is an
// error only while a rule of that name still shows.
func removeIsolation() error {
	if _, err := netsh("firewall", "delete", "rule", "name="+isolationRule); err != nil {
		if _, serr := netsh("firewall", "show", "rule", "name="+isolationRule); serr != nil {
			return nil
		}
		return err
	}
	return nil
}

// applyBlocks keeps one pair of rules per blocked address: the rules of
// addresses no longer in ps are deleted, the missing ones added.
func applyBlocks(ps []netip.Prefix) error {
	want := map[string]bool{}
	for _, p := range ps {
		want[p.String()] = true
	}
	for _, p := range allBlockRules() {
		if !want[p] {
			if _, err := netsh("firewall", "delete", "rule", "name="+blockRule+p); err != nil {
				return err
			}
		}
		delete(want, p) // in place already
	}
	for p := range want {
		for _, dir := range []string{"in", "out"} {
			if _, err := netsh("firewall", "add", "rule", "name="+blockRule+p, "dir="+dir, "action=block", "enable=yes",
				"profile=any", "remoteip="+p); err != nil {
				return err
			}
		}
	}
	return nil
}

// allBlockRules lists the addresses of the block rules in place.
func allBlockRules() []string {
	out, err := netsh("firewall", "show", "rule", "name=all")
	if err != nil {
		return nil
	}
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, blockRule); i >= 0 {
			got = append(got, strings.TrimSpace(line[i+len(blockRule):]))
		}
	}
	// One name per direction: each address once.
	slices.Sort(got)
	return slices.Compact(got)
}
