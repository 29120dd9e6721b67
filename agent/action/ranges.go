package action

import (
	"net/netip"
	"slices"
)

// complementRanges returns the address ranges ("first-last") of IPv4 and
// IPv6 not covered by keep, in order: what a firewall that can only block
// (Windows' block rules win over every allow rule) must block to leave
// exactly keep open.
func complementRanges(keep []netip.Prefix) []string {
	var out []string
	for _, fam := range []struct {
		first, last netip.Addr
		is4         bool
	}{
		{netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255}), true},
		{netip.IPv6Unspecified(), netip.AddrFrom16([16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), false},
	} {
		var spans [][2]netip.Addr
		for _, p := range keep {
			p = p.Masked()
			if p.Addr().Is4() != fam.is4 {
				continue
			}
			spans = append(spans, [2]netip.Addr{p.Addr(), lastAddr(p)})
		}
		slices.SortFunc(spans, func(a, b [2]netip.Addr) int { return a[0].Compare(b[0]) })
		next, done := fam.first, false
		for _, s := range spans {
			if done || s[1].Less(next) {
				continue
			}
			if next.Less(s[0]) {
				out = append(out, next.String()+"-"+s[0].Prev().String())
			}
			if s[1] == fam.last {
				done = true
				continue
			}
			next = s[1].Next()
		}
		if !done {
			out = append(out, next.String()+"-"+fam.last.String())
		}
	}
	return out
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
