package sensor

import (
	"crypto/sha1"
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// PacketSink receives every packet a Decoder is given, after it has been
// counted in its flow: flow is the flow's Community ID hash, or nil for a
// packet that belongs to no flow (ARP, a fragment still waiting for the
// rest of its datagram, an undecodable frame). data is valid only during
// the call.
type PacketSink interface {
	WritePacket(data []byte, ci gopacket.CaptureInfo, link layers.LinkType, flow *[sha1.Size]byte) error
}

// Decoder makes records from packets handed to it one at a time, as a
// live capture delivers them. Time is the packets' own; Expire moves it
// on when no packet comes. A Decoder is not safe for concurrent use.
type Decoder struct {
	d       *decoder
	st      Stats
	packets PacketSink
}

// NewDecoder returns a Decoder that hands its records to out.
func NewDecoder(cfg Config, out Sink) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dec := &Decoder{}
	dec.d = newDecoder(cfg, &dec.st, out)
	return dec, nil
}

// SetPacketSink makes the Decoder pass every packet on to ps, e.g. to
// keep the packets behind the records on disk.
func (d *Decoder) SetPacketSink(ps PacketSink) { d.packets = ps; d.d.keepCID = ps != nil }

// Packet decodes one packet of the given link type. data is only read
// during the call. An error comes from the Sink or the PacketSink; a
// packet that cannot be decoded is counted in Stats instead.
func (d *Decoder) Packet(data []byte, ci gopacket.CaptureInfo, link layers.LinkType) error {
	d.st.Packets++
	d.st.Bytes += int64(len(data))
	if err := d.d.packet(record{data: data, ci: ci, link: link, offset: -1}, d.st.Packets); err != nil {
		return err
	}
	if d.packets == nil {
		return nil
	}
	var cid *[sha1.Size]byte
	if d.d.hasCID {
		cid = &d.d.cid
	}
	if err := d.packets.WritePacket(data, ci, link, cid); err != nil {
		return fmt.Errorf("sensor: keep packet %d: %w", d.st.Packets, err)
	}
	return nil
}

// Expire ends the flows and DNS queries that have been idle too long at
// time now; a live sensor calls it when packets stop coming.
func (d *Decoder) Expire(now time.Time) error {
	d.d.defrag.expire(now)
	if err := d.d.flows.expire(now.UnixNano()); err != nil {
		return err
	}
	return d.d.dns.expire(now)
}

// Flush ends everything still open, as at the end of a capture.
func (d *Decoder) Flush() error { return d.d.flush() }

// Stats returns what the Decoder has seen and made so far.
func (d *Decoder) Stats() Stats {
	st := d.st
	st.Errors = append([]PacketError(nil), d.st.Errors...)
	return st
}

// OpenFlows is the number of flows in the flow table.
func (d *Decoder) OpenFlows() int { return d.d.flows.index.n }
