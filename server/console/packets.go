package console

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"lachan/server/incident"
	"lachan/server/sensor/pcapstore"
)

// packetWindow is how far either side of a flow's record its packets are
// looked for: a Community ID names a 5-tuple, which a later connection
// may use again.
const packetWindow = 24 * time.Hour

// packets downloads, as one pcap, the packets a sensor on this machine
// kept of one flow of an incident's evidence. The incident is read
// through the API, so a person gets the packets of flows they may see
// only, and only of flows in that incident's evidence.
func (c *Console) packets(q req) {
	id, cid := q.r.PathValue("id"), q.r.URL.Query().Get("cid")
	if c.cfg.CaptureDir == "" {
		c.problem(q.w, q.r, http.StatusNotFound, "err.nopackets", cid)
		return
	}
	if _, err := pcapstore.ParseCommunityID(cid); err != nil {
		c.problem(q.w, q.r, http.StatusBadRequest, "err.nopackets", cid)
		return
	}
	var d incident.Detail
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id), nil, nil, &d); err != nil {
		c.fail(q, err)
		return
	}
	var at time.Time
	for _, ev := range d.Evidence {
		if ev.String("network.community_id") == cid {
			at = ev.Timestamp
			break
		}
	}
	if at.IsZero() {
		c.problem(q.w, q.r, http.StatusNotFound, "err.nopackets", cid)
		return
	}
	// The capture is written to a file first, so that a flow with no
	// packets kept answers 404 rather than an empty download.
	f, err := os.CreateTemp("", "lachan-packets-*.pcap")
	if err != nil {
		c.fail(q, err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := pcapstore.Fetch(q.r.Context(), c.cfg.CaptureDir, pcapstore.Query{CommunityID: cid,
		From: at.Add(-packetWindow), To: at.Add(packetWindow)}, f)
	if err != nil {
		c.fail(q, err)
		return
	}
	if n == 0 {
		c.problem(q.w, q.r, http.StatusNotFound, "err.nopackets", cid)
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		c.fail(q, err)
		return
	}
	secure(q.w)
	h := q.w.Header()
	h.Set("Content-Type", "application/vnd.tcpdump.pcap")
	h.Set("Content-Disposition", `attachment; filename="lachan-`+d.ID[:min(12, len(d.ID))]+`-flow.pcap"`)
	h.Set("Cache-Control", "no-store")
	if _, err := io.Copy(q.w, f); err != nil {
		c.log.Warn("packets download cut", "name", q.me.Name, "incident", d.ID, "err", err)
	}
}
