// Package pcapgen writes synthetic but well-formed packet captures
// (Ethernet, IPv4, UDP, TCP, ICMP) for tests and benchmarks of the sensor.
//
// A capture from Write holds, in order: a DNS query from the client for a
// domain and its A answer naming the server; one complete TCP connection
// from the client to the server's port 443 (three-way handshake, a
// TLS ClientHello-shaped first segment, data both ways, FIN/ACK both ways);
// an ICMP echo request and reply; then Options.Flows short TCP and UDP
// flows for load. The same Options always give the same bytes.
package pcapgen
