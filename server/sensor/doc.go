// Package sensor turns packet captures into events: one network.flow event
// per bidirectional flow, one network.dns event per DNS exchange, and
// network.http and network.tls events from reassembled TCP streams.
//
// Decode reads a pcap or pcapng stream (recognised by its magic number,
// optionally gzip-compressed), decodes each packet with gopacket's
// DecodingLayerParser (Ethernet, 802.1Q, Linux SLL/SLL2, BSD loopback and
// raw IP link types; IPv4, IPv6, TCP, UDP, ICMPv4, ICMPv6), and tracks
// flows keyed by their canonical 5-tuple. Flows end on a TCP close (FIN
// from both sides, or RST), on an idle or active timeout measured in
// packet time, on eviction when the table is full, or at the end of the
// capture. DNS messages on the configured UDP ports (53, mDNS, LLMNR and
// NetBIOS name service by default) are paired by transaction ID and flow.
//
// TCP connections whose first bytes look like HTTP/1.x or a TLS handshake
// (or that go to Config.HTTPPorts) are reassembled in order, per
// direction, up to Config.StreamDepth bytes, within Config.ReassemblyMemory
// for all connections together; out-of-order segments are held within
// those caps and a gap that does not fit ends the stream. HTTP yields one
// network.http event per request and response, pipelined ones paired in
// order; TLS yields one network.tls event per connection with the hellos,
// JA3, JA4 and the server certificate where the handshake shows it.
//
// Event IDs are derived from the Community ID and the start time, so that
// importing the same capture twice stores each record once. The sensor
// never panics on hostile input: a packet it cannot decode is counted in
// Stats, and the first few such errors are kept with their packet number
// and byte offset.
package sensor
