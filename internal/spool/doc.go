// Package spool is the agent's durable, bounded, on-disk FIFO queue of
// opaque records. Collectors append; the shipper peeks a batch, delivers it
// and acknowledges it. Nothing is removed before it is acknowledged, so a
// crash, a reboot or a dead link loses no record whose Append returned
// (when Config.Sync is on); delivery is at least once and the server drops
// duplicates by event ID.
//
// On disk a spool is a directory of segment files named by the sequence
// number they start at ("00000000000000000001.seg") and one cursor file
// ("ack") holding the highest acknowledged sequence number. A segment is a
// run of frames:
//
//	length  uint32 little endian, payload bytes
//	crc     uint32 little endian, CRC-32C of length, seq and payload
//	seq     uint64 little endian
//	payload length bytes
//
// Open checks every frame. Where one is torn or corrupt it goes on at the
// next offset where a whole frame with a good checksum and a plausible
// sequence number starts, cuts the bad stretch out of the file and counts
// the records it held (Stats, kept in the file "dropped"), so that a bad
// frame costs that frame only. Peek does the same with a frame damaged
// after Open.
package spool
