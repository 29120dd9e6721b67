package action

import (
	"net/netip"
	"slices"
	"testing"
)

func TestComplementRanges(t *testing.T) {
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	cases := []struct {
		keep []netip.Prefix
		want []string
	}{
		{nil, []string{"0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{[]netip.Prefix{p("10.0.0.5/32")}, []string{"0.0.0.0-10.0.0.4", "10.0.0.6-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{[]netip.Prefix{p("0.0.0.0/24"), p("10.0.0.0/8"), p("10.1.0.0/16"), p("255.255.255.0/24"), p("::/0")},
			[]string{"0.0.1.0-9.255.255.255", "11.0.0.0-255.255.254.255"}},
		{[]netip.Prefix{p("2001:db8::1/128")}, []string{"0.0.0.0-255.255.255.255", "::-2001:db8::", "2001:db8::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
	}
	for _, c := range cases {
		if got := complementRanges(c.keep); !slices.Equal(got, c.want) {
			t.Errorf("complementRanges(%v) = %v, want %v", c.keep, got, c.want)
		}
	}
}
