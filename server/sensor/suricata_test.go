package sensor

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"lachan/internal/event"
)

// suricataVerifyTest is the part of a Suricata-verify test.yaml the
// sensor is compared on: eve records to match, each with its fields.
type suricataVerifyTest struct {
	Checks []struct {
		Filter struct {
			Count int            `yaml:"count"`
			Match map[string]any `yaml:"match"`
		} `yaml:"filter"`
	} `yaml:"checks"`
}

// suricataOnly are eve fields of Suricata's own engine state, which a
// record of ours has no counterpart of.
var suricataOnly = map[string]bool{
	"flow.alerted": true, "flow.reason": true, "flow.state": true, "tcp.state": true,
	// Flags per direction; our records keep the flags of both together.
	"tcp.tcp_flags_ts": true, "tcp.tcp_flags_tc": true,
}

var seedLine = regexp.MustCompile(`(?m)^\s*community-id-seed:\s*(\d+)\s*$`)

// TestSuricataVerifyCommunityID decodes the captures of Suricata-verify's
// Community ID tests with the seed their suricata.yaml sets and compares
// every record test.yaml expects field for field.
func TestSuricataVerifyCommunityID(t *testing.T) {
	dir := filepath.Join(sharedData(t), "pcap", "suricata-verify")
	for _, name := range []string{"community-id-ipv6", "community-id-sameip"} {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(dir, name)
			conf, err := os.ReadFile(filepath.Join(base, "suricata.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			m := seedLine.FindSubmatch(conf)
			if m == nil {
				t.Fatal("suricata.yaml sets no community-id-seed")
			}
			seed, err := strconv.ParseUint(string(m[1]), 10, 16)
			if err != nil {
				t.Fatal(err)
			}
			var tc suricataVerifyTest
			raw, err := os.ReadFile(filepath.Join(base, "test.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(raw, &tc); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(base, "input.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.CommunityIDSeed = uint16(seed)
			evs, _ := decodeAll(t, data, cfg)
			if len(tc.Checks) == 0 {
				t.Fatal("test.yaml has no checks")
			}
			for i, c := range tc.Checks {
				want := c.Filter.Match
				var found []event.Event
				for _, ev := range evs {
					if eveTypeOf(ev) == want["event_type"] && sameEndpoints(ev, want) {
						found = append(found, ev)
					}
				}
				if len(found) != c.Filter.Count {
					t.Errorf("check %d (%v %v > %v): %d records, want %d", i, want["event_type"],
						want["src_ip"], want["dest_ip"], len(found), c.Filter.Count)
					continue
				}
				for _, ev := range found {
					compareEve(t, fmt.Sprintf("check %d", i), want, ev)
				}
			}
		})
	}
}

func eveTypeOf(ev event.Event) string {
	switch ev.Dataset {
	case event.DatasetFlow:
		return "flow"
	case datasetTLS:
		return "tls"
	}
	return ev.Dataset
}

func sameEndpoints(ev event.Event, want map[string]any) bool {
	return sameAddr(ev.String("source.ip"), want["src_ip"]) && sameAddr(ev.String("destination.ip"), want["dest_ip"]) &&
		ev.String("source.port") == fmt.Sprint(want["src_port"]) && ev.String("destination.port") == fmt.Sprint(want["dest_port"])
}

// sameAddr compares addresses whatever their spelling: eve writes IPv6
// with every zero group.
func sameAddr(got string, want any) bool {
	a, err1 := netip.ParseAddr(got)
	b, err2 := netip.ParseAddr(fmt.Sprint(want))
	return err1 == nil && err2 == nil && a == b
}

// eveFlagBits are the bits of eve's tcp.tcp_flags, a hex byte.
var eveFlagBits = map[string]uint8{"FIN": 0x01, "SYN": 0x02, "RST": 0x04, "PSH": 0x08, "ACK": 0x10, "URG": 0x20, "ECE": 0x40, "CWR": 0x80}

func compareEve(t *testing.T, what string, want map[string]any, ev event.Event) {
	t.Helper()
	var flags uint8
	for _, n := range ev.Strings("tcp.flags") {
		flags |= eveFlagBits[n]
	}
	// Suricata counts whole packets, Ethernet header included; ours are
	// IP bytes, so each packet's 14 link-layer bytes are added back.
	bytesWithLink := func(bytes, pkts string) string {
		b, _ := strconv.ParseInt(ev.String(bytes), 10, 64)
		p, _ := strconv.ParseInt(ev.String(pkts), 10, 64)
		return strconv.FormatInt(b+14*p, 10)
	}
	got := map[string]string{
		"community_id":        ev.String("network.community_id"),
		"proto":               strings.ToUpper(ev.String("network.transport")),
		"app_proto":           ev.String("network.protocol"),
		"tls.sni":             ev.String("tls.client.server_name"),
		"tls.version":         strings.ToUpper(ev.String("tls.version_protocol")) + " " + ev.String("tls.version"),
		"flow.pkts_toserver":  ev.String("source.packets"),
		"flow.pkts_toclient":  ev.String("destination.packets"),
		"flow.bytes_toserver": bytesWithLink("source.bytes", "source.packets"),
		"flow.bytes_toclient": bytesWithLink("destination.bytes", "destination.packets"),
		"flow.age":            strconv.FormatInt(ev.Int("event.duration")/1e9, 10),
		"tcp.tcp_flags":       strconv.FormatUint(uint64(flags), 16),
	}
	for n, bit := range map[string]uint8{"tcp.fin": 0x01, "tcp.syn": 0x02, "tcp.rst": 0x04, "tcp.psh": 0x08, "tcp.ack": 0x10} {
		got[n] = strconv.FormatBool(flags&bit != 0)
	}
	for k, w := range want {
		switch k {
		case "event_type", "src_ip", "dest_ip", "src_port", "dest_port":
			continue // matched on
		}
		if suricataOnly[k] {
			continue
		}
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: eve field %s has no counterpart", what, k)
			continue
		}
		if ws := fmt.Sprint(w); g != ws {
			t.Errorf("%s %s: %s = %q, Suricata %q", what, ev.Dataset, k, g, ws)
		}
	}
}
