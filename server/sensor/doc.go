// Package sensor turns packet captures into records: one flow record per
// bidirectional flow, one network.dns event per DNS exchange, and
// network.http and network.tls events from reassembled TCP streams.
//
// DecodeRecords reads a pcap or pcapng stream (recognised by its magic
// number, optionally gzip-compressed); a Decoder takes packets one at a
// time, as a live capture delivers them (see package tap). Each packet is
// decoded with gopacket's DecodingLayerParser (Ethernet, 802.1Q, Linux
// SLL/SLL2, BSD loopback and raw IP link types; IPv4, IPv6, TCP, UDP,
// ICMPv4, ICMPv6), and flows are tracked by their canonical 5-tuple.
// Flows end on a TCP close (FIN from both sides, or RST), on an idle or
// active timeout measured in packet time, on eviction when the table is
// full, or at the end of the capture. DNS messages on the configured
// ports (53, mDNS, LLMNR and NetBIOS name service by default) are paired
// by transaction ID and flow, over UDP and over TCP alike.
//
// IPv4 fragments, and IPv6 ones (a fragment header right after the IPv6
// header or its hop-by-hop options), are reassembled before anything else
// looks at them, within Config.DefragMemory bytes and
// Config.DefragDatagrams datagrams waiting at most Config.DefragTimeout;
// the first copy of an overlapping byte wins. A reassembled datagram
// counts as one packet of its flow with its whole IP length, as Zeek
// counts it; fragments given up are counted in Stats.FragmentsDropped. An
// IPv6 fragment behind other extension headers (routing, destination
// options) is skipped and counted, as such packets are.
//
// TCP connections whose first bytes look like HTTP/1.x or a TLS handshake
// (or that go to Config.HTTPPorts, or to a DNS port) are reassembled in
// order, per direction, up to Config.StreamDepth bytes, within
// Config.ReassemblyMemory for all connections together; out-of-order
// segments are held within those caps and a gap that does not fit ends
// the stream. HTTP yields one network.http event per request and
// response, pipelined ones paired in order; TLS yields one network.tls
// event per connection with the hellos, JA3, JA4 and, where the handshake
// shows it (TLS 1.2 and earlier), the server's certificate chain: the
// leaf under tls.server.x509 and every certificate, leaf first, as one
// object of tls.server.x509_chain with the fields of Zeek's x509.log
// under ECS x509 names; DNS over TCP is split into
// messages by their two-byte length prefixes, and a length that lies
// (shorter than a DNS header, or cutting a message so that it does not
// parse) stops that direction and counts in Stats.AppErrors.
//
// # Records
//
// Flows are the bulk of what the sensor makes (one per flow, most of them
// a handful of packets), so they are typed: a Sink receives a *Flow that
// the sensor owns and reuses, and converts it to an event.Event only
// where a consumer needs one (Flow.Event, used by Decode, `pcap import`
// and the live sensor, which send events to the server) or writes its
// JSON straight from the struct (Flow.AppendJSON, used by `pcap decode`;
// byte for byte the event's JSON). Application records, at most a few
// per connection and with variable fields, stay events. With flow
// structures reused once their flow ends, decoding the synthetic mix
// into all its records allocates about 46 bytes per packet, nearly all
// of it the flow table growing to the number of flows open at once.
//
// Memory for open flows: one flow takes a 176-byte structure plus its
// share of the table's hash map, 250 to 293 bytes in all as measured by
// `sensorbench -flowmem` (293 bytes per flow with 1,000,000 open at once:
// 280 MiB of live heap; 250 with 100,000). Config.MaxFlows (100,000 by
// default, about 24 MiB) bounds it: when the table is full the least recently active
// flow is ended early and counted in Stats.FlowsEvicted. Connections
// being reassembled add at most Config.ReassemblyMemory, fragments at
// most Config.DefragMemory.
//
// A TCP connection first seen without its SYN is oriented as Zeek orients
// a partial connection (the side on a likely server port is the
// responder), and its HTTP is decoded from the first segment that starts
// a request or status line. Community IDs use Config.CommunityIDSeed.
//
// Event IDs are derived from the Community ID and the start time, so that
// importing the same capture twice stores each record once. The sensor
// never panics on hostile input: a packet it cannot decode is counted in
// Stats, and the first few such errors are kept with their packet number
// and byte offset.
package sensor
