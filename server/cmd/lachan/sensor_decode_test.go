package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lachan/server/sensor"
	"lachan/test/pcapgen"
)

// TestPcapDecodeOutput checks the JSON lines of `pcap decode`: every flow
// carries its Community ID and every TLS client hello its JA3 and JA4.
func TestPcapDecodeOutput(t *testing.T) {
	path := mixCapture(t, 40)
	var out, errOut bytes.Buffer
	root := rootCmd()
	root.SetArgs([]string{"pcap", "decode", path})
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.Execute(); err != nil {
		t.Fatalf("pcap decode: %v\n%s", err, errOut.String())
	}
	counts := map[string]int{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		ds, _ := rec["event.dataset"].(string)
		counts[ds]++
		if cid, _ := rec["network.community_id"].(string); len(cid) != 30 {
			t.Errorf("%s record without a Community ID: %s", ds, sc.Text())
		}
		if ds == "network.tls" {
			for _, k := range []string{"tls.client.ja3", "tls.client.ja4"} {
				if v, _ := rec[k].(string); v == "" {
					t.Errorf("TLS record without %s: %s", k, sc.Text())
				}
			}
		}
	}
	if counts["network.flow"] != 43 || counts["network.tls"] != 1 || counts["network.dns"] != 1 {
		t.Errorf("records by dataset %v, want 43 flows, 1 TLS, 1 DNS", counts)
	}
}

// TestPcapDecodeSeed checks that `pcap decode` hashes with the seed of
// LACHAN_SENSOR_COMMUNITY_ID_SEED and refuses one out of range.
func TestPcapDecodeSeed(t *testing.T) {
	path := mixCapture(t, 5)
	run := func(seed string) (string, error) {
		t.Setenv("LACHAN_SENSOR_COMMUNITY_ID_SEED", seed)
		var out, errOut bytes.Buffer
		root := rootCmd()
		root.SetArgs([]string{"pcap", "decode", path})
		root.SetOut(&out)
		root.SetErr(&errOut)
		err := root.Execute()
		return out.String(), err
	}
	out, err := run("7")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var rec struct {
			Dataset   string `json:"event.dataset"`
			Src       string `json:"source.ip"`
			Dst       string `json:"destination.ip"`
			SrcPort   uint16 `json:"source.port"`
			DstPort   uint16 `json:"destination.port"`
			Transport string `json:"network.iana_number"`
			ICMPType  uint16 `json:"icmp.type"`
			ICMPCode  uint16 `json:"icmp.code"`
			CID       string `json:"network.community_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Dataset != "network.flow" {
			continue
		}
		proto, _ := strconv.Atoi(rec.Transport)
		sport, dport := rec.SrcPort, rec.DstPort
		if rec.Transport == "1" {
			sport, dport = rec.ICMPType, rec.ICMPCode
		}
		want := sensor.CommunityID(netip.MustParseAddr(rec.Src), netip.MustParseAddr(rec.Dst), sport, dport, uint8(proto), 7)
		if rec.CID != want {
			t.Errorf("%s: community ID %s, with seed 7 %s", sc.Text(), rec.CID, want)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no flows decoded")
	}
	for _, bad := range []string{"65536", "-1"} {
		if _, err := run(bad); err == nil || !strings.Contains(err.Error(), "community_id_seed") {
			t.Errorf("seed %s: %v, want an error naming community_id_seed", bad, err)
		}
	}
}

// mixCapture writes a capture of flows connections with DNS and TLS, the
// same for every call with the same count.
func mixCapture(t *testing.T, flows int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mix.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = pcapgen.Write(f, pcapgen.Options{Client: netip.MustParseAddr("192.168.1.10"),
		Server: netip.MustParseAddr("93.184.216.34"), DNSServer: netip.MustParseAddr("192.168.1.1"),
		Domain: "example.org", Start: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Flows: flows, Seed: 2})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return path
}
