package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lachan/test/pcapgen"
)

// TestPcapDecodeOutput checks the JSON lines of `pcap decode`: every flow
// carries its Community ID and every TLS client hello its JA3 and JA4.
func TestPcapDecodeOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mix.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = pcapgen.Write(f, pcapgen.Options{Client: netip.MustParseAddr("192.168.1.10"),
		Server: netip.MustParseAddr("93.184.216.34"), DNSServer: netip.MustParseAddr("192.168.1.1"),
		Domain: "example.org", Start: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Flows: 40, Seed: 2})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
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
