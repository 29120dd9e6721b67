package sensor

import (
	"net/netip"
	"testing"
)

func TestCommunityID(t *testing.T) {
	a4, b4 := netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("5.6.7.8")
	a6 := netip.MustParseAddr("fe80:0001:0203:0405:0607:0809:0A0B:0C0D")
	b6 := netip.MustParseAddr("fe80:1011:1213:1415:1617:1819:1A1B:1C1D")
	tests := []struct {
		name         string
		src, dst     netip.Addr
		sport, dport uint16
		proto        uint8
		seed         uint16
		want         string
	}{
		// Vectors from the Community ID specification's baseline data.
		{"tcp", a4, b4, 1122, 3344, protoTCP, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{"tcp reversed", b4, a4, 3344, 1122, protoTCP, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{"udp", a4, b4, 1122, 3344, protoUDP, 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
		{"icmp echo request", a4, b4, 8, 0, protoICMP, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
		{"icmp echo reply", b4, a4, 0, 0, protoICMP, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
		{"icmp6 echo request", a6, b6, 128, 0, protoICMPv6, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
		{"tcp seed 1", a4, b4, 1122, 3344, protoTCP, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="},
		// Flows of wikipedia.pcap as Wireshark 4.0's communityid dissector
		// hashes them: an independent implementation.
		{"wireshark udp", netip.MustParseAddr("141.142.220.118"), netip.MustParseAddr("141.142.2.2"), 43927, 53, protoUDP, 0, "1:SstOIjjOLepdn1pkOn6PP+Hk+MA="},
		{"wireshark udp6", netip.MustParseAddr("fe80::3074:17d5:2052:c324"), netip.MustParseAddr("ff02::1:3"), 65373, 5355, protoUDP, 0, "1:xDYv+7DcNG3imb1zxwMnn9pVik0="},
		{"wireshark tcp", netip.MustParseAddr("173.192.163.128"), netip.MustParseAddr("141.142.220.235"), 80, 6705, protoTCP, 0, "1:I6bCdFxpIh8r3t/2zX8ZlmZFZRM="},
		{"mixed families", a4, b6, 1, 2, protoTCP, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CommunityID(tt.src, tt.dst, tt.sport, tt.dport, tt.proto, tt.seed); got != tt.want {
				t.Errorf("CommunityID = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCommunityHashWords holds the flow table's hash of word-form
// addresses to communityHash over netip.Addr, both orders of each pair.
func TestCommunityHashWords(t *testing.T) {
	pairs := [][2]string{{"10.0.0.1", "10.0.0.2"}, {"10.0.0.1", "10.0.0.1"}, {"192.168.1.10", "93.184.216.34"},
		{"2001:db8::1", "2001:db8::2"}, {"fe80::1", "::ffff:10.0.0.1"}, {"::ffff:10.0.0.1", "::ffff:10.0.0.2"}}
	for _, pair := range pairs {
		for _, swap := range []bool{false, true} {
			a, b := netip.MustParseAddr(pair[0]), netip.MustParseAddr(pair[1])
			if swap {
				a, b = b, a
			}
			for _, proto := range []uint8{protoTCP, protoUDP, protoICMP, protoICMPv6, 132, 47} {
				for _, ports := range [][2]uint16{{1000, 80}, {80, 1000}, {8, 0}, {3, 1}, {128, 0}, {5, 5}} {
					want, _ := communityHash(a, b, ports[0], ports[1], proto, 7)
					got := communityHashWords(addrWords(a), addrWords(b), a.Is6(), ports[0], ports[1], proto, 7)
					if got != want {
						t.Errorf("%s %s proto %d ports %v: %x, want %x", a, b, proto, ports, got, want)
					}
				}
			}
		}
	}
}
