// Package sensor turns packet captures into events: one network.flow event
// per bidirectional flow and one network.dns event per DNS exchange.
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
// Event IDs are derived from the Community ID and the start time, so that
// importing the same capture twice stores each record once. The sensor
// never panics on hostile input: a packet it cannot decode is counted in
// Stats, and the first few such errors are kept with their packet number
// and byte offset.
package sensor
