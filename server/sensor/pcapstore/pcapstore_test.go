package pcapstore

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"lachan/internal/event"
	"lachan/server/sensor"
	"lachan/test/pcapgen"
)

var start = time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

// flowCounts is a sensor.Sink keeping each flow's packet count and times.
type flowCounts map[string]sensor.Flow

func (c flowCounts) Flow(f *sensor.Flow) error { c[f.CommunityID()] = *f; return nil }
func (c flowCounts) Event(event.Event) error   { return nil }

// record runs the sensor over a generated capture, keeping its packets in
// a store in dir; it returns the flows the sensor saw.
func record(t *testing.T, cfg Config, close bool) (flowCounts, *Writer) {
	t.Helper()
	var buf bytes.Buffer
	if err := pcapgen.Write(&buf, pcapgen.Options{Client: netip.MustParseAddr("192.168.1.10"),
		Server: netip.MustParseAddr("93.184.216.34"), DNSServer: netip.MustParseAddr("192.168.1.1"),
		Domain: "example.org", Start: start, Flows: 200, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	w, err := Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	flows := flowCounts{}
	dec, err := sensor.NewDecoder(sensor.DefaultConfig(), flows)
	if err != nil {
		t.Fatal(err)
	}
	dec.SetPacketSink(w)
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := dec.Packet(data, ci, r.LinkType()); err != nil {
			t.Fatal(err)
		}
	}
	if err := dec.Flush(); err != nil {
		t.Fatal(err)
	}
	if close {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	} else if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return flows, w
}

// fetchFlows fetches one flow and decodes the result with the sensor.
func fetchFlows(t *testing.T, dir string, q Query) (int, flowCounts, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "flow.pcap")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Fetch(context.Background(), dir, q, f)
	f.Close()
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	got := flowCounts{}
	if _, err := sensor.DecodeFileRecords(context.Background(), out, sensor.DefaultConfig(), got); err != nil {
		t.Fatal(err)
	}
	return n, got, out
}

func TestFetchReturnsTheFlow(t *testing.T) {
	for _, indexed := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.Dir, cfg.FileSize = t.TempDir(), 4096
		flows, w := record(t, cfg, indexed)
		if st := w.Stats(); indexed && st.Files < 5 || st.FilesDeleted != 0 {
			t.Fatalf("indexed=%v: stats %+v, want several files and none deleted", indexed, st)
		}
		checked := 0
		for cid, want := range flows {
			if checked++; checked > 10 {
				break
			}
			n, got, path := fetchFlows(t, cfg.Dir, Query{CommunityID: cid})
			g, ok := got[cid]
			if len(got) != 1 || !ok || g.SrcPackets != want.SrcPackets || g.DstPackets != want.DstPackets ||
				g.SrcBytes != want.SrcBytes || n != int(want.SrcPackets+want.DstPackets) {
				t.Fatalf("indexed=%v: flow %s: fetched %d packets making %v, want %+v", indexed, cid, n, got, want)
			}
			if checked == 1 && indexed {
				checkWithTshark(t, path, n)
			}
			// A window after the flow selects none of it; one over it, all.
			if n, _, _ := fetchFlows(t, cfg.Dir, Query{CommunityID: cid, From: want.End.Add(time.Nanosecond)}); n != 0 {
				t.Errorf("window after the flow: %d packets", n)
			}
			if n, _, _ := fetchFlows(t, cfg.Dir, Query{CommunityID: cid, From: want.Start, To: want.End}); n != int(want.SrcPackets+want.DstPackets) {
				t.Errorf("window over the flow: %d packets", n)
			}
		}
	}
}

// checkWithTshark counts the packets of a fetched file with tshark too,
// when it is installed.
func checkWithTshark(t *testing.T, path string, want int) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: fetched file checked with the sensor only")
		return
	}
	out, err := exec.Command("tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	if got := len(strings.Fields(string(out))); got != want {
		t.Errorf("tshark reads %d packets, want %d", got, want)
	}
}

func TestQuotaDeletesOldestFiles(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dir, cfg.FileSize, cfg.Quota = t.TempDir(), 4096, 3*4096
	flows, w := record(t, cfg, true)
	st := w.Stats()
	if st.FilesDeleted == 0 || st.OnDisk > cfg.Quota {
		t.Fatalf("stats %+v: want old files deleted and at most %d bytes kept", st, cfg.Quota)
	}
	var onDisk int64
	entries, _ := os.ReadDir(cfg.Dir)
	for _, e := range entries {
		fi, _ := e.Info()
		onDisk += fi.Size()
	}
	if onDisk != st.OnDisk || onDisk > cfg.Quota {
		t.Errorf("%d bytes in the directory, stats say %d, quota %d", onDisk, st.OnDisk, cfg.Quota)
	}
	seqs, _ := listFiles(cfg.Dir)
	if len(seqs) == 0 || seqs[0] != uint64(st.FilesDeleted)+1 {
		t.Errorf("files %v after deleting %d: want the oldest gone", seqs, st.FilesDeleted)
	}
	// The first flows' packets went with the oldest files.
	var early sensor.Flow
	for _, f := range flows {
		if early.Start.IsZero() || f.Start.Before(early.Start) {
			early = f
		}
	}
	if n, _, _ := fetchFlows(t, cfg.Dir, Query{CommunityID: early.CommunityID()}); n != 0 {
		t.Errorf("earliest flow: %d packets left, want none", n)
	}
}

func TestConfigAndQueryErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"no dir", func(c *Config) { c.Dir = "" }, "dir"},
		{"tiny files", func(c *Config) { c.FileSize = 10 }, "file_size"},
		{"quota under two files", func(c *Config) { c.Quota = c.FileSize }, "quota"},
		{"snap", func(c *Config) { c.SnapLen = 1 }, "snap_len"},
	} {
		c := DefaultConfig()
		c.Dir = "x"
		tt.cfg(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
	for _, id := range []string{"", "2:abc", "1:not base64!", "1:AAAA"} {
		if _, err := Fetch(context.Background(), t.TempDir(), Query{CommunityID: id}, io.Discard); err == nil {
			t.Errorf("Fetch with community ID %q succeeded", id)
		}
	}
}
