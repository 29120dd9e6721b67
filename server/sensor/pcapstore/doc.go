// Package pcapstore keeps the packets behind the sensor's records: it
// writes every packet into rolling pcap files with an index per file, so
// that the packets of one flow can be fetched later by Community ID and
// time, the pivot from an endpoint finding to the traffic behind it.
//
// A store is a directory of files named by a sequence number:
// "capture-00000000000000000001.pcap" and, once that file is complete,
// "capture-00000000000000000001.idx". A file is complete when it reaches
// Config.FileSize, when the link type changes, or when the Writer is
// closed. The total size of the files is bounded by Config.Quota: after
// each rotation the oldest files are deleted, and counted, until the
// store fits (the file being written is never deleted).
//
// An index (format version 1) is
//
//	magic    "LCPIDX1\n"
//	first    varint, Unix nanoseconds of the file's first packet
//	span     uvarint, nanoseconds from first to its last packet
//	entries  uvarint, number of flows
//	then per flow, sorted by hash:
//	hash     20 bytes, the SHA-1 behind the flow's Community ID
//	first    varint, Unix nanoseconds of the flow's first packet in the file
//	span     uvarint, nanoseconds to its last packet in the file
//	count    uvarint, packets
//	offsets  count uvarints, byte offsets of the packet records in the
//	         file, each after the first as the distance from the previous
//
// Fetch reads the indexes it finds and scans a file that has none (the
// one being written, or one left by a crash), computing each packet's
// Community ID as the sensor does.
package pcapstore
