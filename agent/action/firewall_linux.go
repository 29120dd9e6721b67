package action

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// Tables of the agent's own, so that nothing else in the PC's ruleset is
// touched and release or unblock is deleting one table.
const (
	isolationTable = "lachan_isolation"
	blockTable     = "lachan_block"
)

// nft runs one nft script as one transaction: all of it applies, or none.
func nft(script string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// sets writes the elements of the named IPv4 and IPv6 interval sets.
func sets(b *strings.Builder, name string, ps []netip.Prefix) {
	var v4, v6 []string
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, p.String())
		} else {
			v6 = append(v6, p.String())
		}
	}
	for _, s := range []struct {
		fam  string
		typ  string
		elts []string
	}{{"4", "ipv4_addr", v4}, {"6", "ipv6_addr", v6}} {
		fmt.Fprintf(b, "  set %s%s { type %s; flags interval; ", name, s.fam, s.typ)
		if len(s.elts) > 0 {
			fmt.Fprintf(b, "elements = { %s }; ", strings.Join(s.elts, ", "))
		}
		b.WriteString("}\n")
	}
}

// isolationScript replaces the isolation table in one transaction. Both
// chains drop by default and run before the usual filter priority; a drop
// anywhere is final in nftables, so no other table's accept reopens the
// way. DHCP stays open so that the PC keeps its address, and IPv6
// neighbour discovery so that it keeps reaching its server over IPv6.
func isolationScript(iso Isolation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", isolationTable, isolationTable, isolationTable)
	sets(&b, "allow", iso.Allow)
	dns := make([]netip.Prefix, 0, len(iso.DNS))
	for _, a := range iso.DNS {
		dns = append(dns, netip.PrefixFrom(a, a.BitLen()))
	}
	sets(&b, "dns", dns)
	for _, c := range []struct{ name, dir, peer, port string }{
		{"input", "iif", "saddr", "sport"}, {"output", "oif", "daddr", "dport"},
	} {
		fmt.Fprintf(&b, "  chain %s {\n    type filter hook %s priority filter - 10; policy drop;\n", c.name, c.name)
		fmt.Fprintf(&b, "    %s \"lo\" accept\n", c.dir)
		fmt.Fprintf(&b, "    ip %s @allow4 accept\n    ip6 %s @allow6 accept\n", c.peer, c.peer)
		fmt.Fprintf(&b, "    ip %s @dns4 udp %s 53 accept\n    ip %s @dns4 tcp %s 53 accept\n", c.peer, c.port, c.peer, c.port)
		fmt.Fprintf(&b, "    ip6 %s @dns6 udp %s 53 accept\n    ip6 %s @dns6 tcp %s 53 accept\n", c.peer, c.port, c.peer, c.port)
		b.WriteString("    udp sport { 67, 68 } udp dport { 67, 68 } accept\n")
		b.WriteString("    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept\n")
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func applyIsolation(iso Isolation) (string, error) {
	if err := nft(isolationScript(iso)); err != nil {
		return "", err
	}
	return "nftables table inet " + isolationTable, nil
}

func removeIsolation() error {
	return nft(fmt.Sprintf("table inet %s\ndelete table inet %s\n", isolationTable, isolationTable))
}

// applyBlocks replaces the block table with one dropping traffic to and
// from every address in ps (no table when ps is empty).
func applyBlocks(ps []netip.Prefix) error {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n", blockTable, blockTable)
	if len(ps) > 0 {
		fmt.Fprintf(&b, "table inet %s {\n", blockTable)
		sets(&b, "block", ps)
		for _, c := range []struct{ name, peer string }{{"input", "saddr"}, {"output", "daddr"}, {"forward", "daddr"}} {
			fmt.Fprintf(&b, "  chain %s {\n    type filter hook %s priority filter - 5; policy accept;\n", c.name, c.name)
			fmt.Fprintf(&b, "    ip %s @block4 drop\n    ip6 %s @block6 drop\n  }\n", c.peer, c.peer)
		}
		b.WriteString("}\n")
	}
	return nft(b.String())
}
