package console_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/app"
	"lachan/server/incident"
	"lachan/server/sensor/pcapstore"
)

// TestIncidentPackets: a flow in an incident's evidence links to its
// packets when the sensor on this machine kept them; the download is a
// pcap of that flow's packets only; a flow kept by no sensor, or not in
// the incident, or an incident the person may not see, gives none.
func TestIncidentPackets(t *testing.T) {
	capture := filepath.Join(t.TempDir(), "capture")
	cfg := pcapstore.DefaultConfig()
	cfg.Dir = capture
	w, err := pcapstore.Open(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	kept, other := sha1.Sum([]byte("kept flow")), sha1.Sum([]byte("other flow"))
	at := time.Now().Add(-2 * time.Minute)
	for i, h := range []*[sha1.Size]byte{&kept, &other, &kept} {
		frame := make([]byte, 60)
		frame[59] = byte(i)
		if err := w.WritePacket(frame, gopacket.CaptureInfo{Timestamp: at.Add(time.Duration(i) * time.Second)}, layers.LinkTypeEthernet, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cidOf := func(h [sha1.Size]byte) string { return "1:" + base64.StdEncoding.EncodeToString(h[:]) }
	notKept := sha1.Sum([]byte("not kept"))

	e := newEnvConfig(t, nil, func(c *app.Config) { c.Console.CaptureDir = capture })
	var evs []event.Event
	for _, cid := range []string{cidOf(kept), cidOf(notKept)} {
		ev := event.New("network.flow", at)
		ev.ID = event.DeriveID("flow", cid)
		ev.Set("source.ip", "10.0.0.5")
		ev.Set("destination.ip", "203.0.113.9")
		ev.Set("destination.port", 443)
		ev.Set("network.transport", "tcp")
		ev.Set("network.community_id", cid)
		ev.Set("lachan.unit", "ward-1")
		evs = append(evs, ev)
	}
	al := event.New(event.DatasetAlert, at)
	al.ID = event.DeriveID("alert", "flows")
	al.Set("host.id", "pc-9")
	al.Set("rule.id", "r-net")
	al.Set("rule.name", "Beacon")
	al.Set("rule.level", "high")
	al.Set("lachan.unit", "ward-1")
	al.Set("lachan.alert.source_ids", []string{evs[0].ID, evs[1].ID})
	ctx := context.Background()
	if _, err := e.st.PutEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	ids, err := incident.NewManager(e.st, incident.DefaultConfig(), nil).Raise(ctx, []event.Event{al})
	if err != nil || len(ids) != 1 {
		t.Fatalf("raise: %v %v", ids, err)
	}
	a := e.addUser("minh", "analyst")
	b := e.browser()
	b.login("minh", a.Password, "mật-khẩu-rất-dài-p1")
	p := b.get("/incidents/" + ids[0])
	link := "/incidents/" + ids[0] + "/packets?cid=" + url.QueryEscape(cidOf(kept))
	if p.StatusCode != 200 || strings.Count(p.Body, `class="packets"`) != 2 ||
		!strings.Contains(p.Body, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`" class="packets"`) {
		t.Fatalf("incident page: %d, want a packets link on each of the two flows (%s)\n%s", p.StatusCode, link, p.Body)
	}
	d := b.get(link)
	if d.StatusCode != 200 || d.Header.Get("Content-Type") != "application/vnd.tcpdump.pcap" ||
		!strings.Contains(d.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d %s %s\n%.300s", d.StatusCode, d.Header.Get("Content-Type"), d.Header.Get("Content-Disposition"), d.Body)
	}
	// A pcap header (24 bytes), then the flow's two packets of 60 bytes
	// with their 16-byte record headers, the other flow's left out.
	if len(d.Body) != 24+2*(16+60) || d.Body[len(d.Body)-1] != 2 {
		t.Errorf("download: %d bytes, want the kept flow's two packets (%d)", len(d.Body), 24+2*(16+60))
	}
	for name, path := range map[string]string{
		"a flow no sensor kept":      "/incidents/" + ids[0] + "/packets?cid=" + url.QueryEscape(cidOf(notKept)),
		"a flow not in the incident": "/incidents/" + ids[0] + "/packets?cid=" + url.QueryEscape(cidOf(other)),
		"not a community ID":         "/incidents/" + ids[0] + "/packets?cid=x",
	} {
		if d := b.get(path); d.StatusCode == 200 || strings.Contains(d.Body, "\xd4\xc3\xb2\xa1") {
			t.Errorf("%s: %d, want no packets", name, d.StatusCode)
		}
	}
	// A responder of another ward sees neither the incident nor its packets.
	r := e.addUser("xa", "responder", "ward-2")
	rb := e.browser()
	rb.login("xa", r.Password, "mật-khẩu-rất-dài-p2")
	if d := rb.get(link); d.StatusCode != 404 {
		t.Errorf("another ward's responder: %d, want 404", d.StatusCode)
	}
}
