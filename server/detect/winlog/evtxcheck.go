package winlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// evtx chunk layout: a 512-byte header (its checksum covers bytes 0-119
// and 128-511) followed by event records up to the free-space offset (their
// checksum is in the header too).
const (
	chunkSize         = 0x10000
	chunkHeaderSize   = 512
	offFreeSpace      = 48
	offRecordsCRC     = 52
	offHeaderCRC      = 124
	headerCRCPart1End = 120
	headerCRCPart2    = 128
)

// checkChunk verifies a chunk's two checksums before the evtx library
// parses it. The library trusts the lengths and counts inside records and
// can allocate without bound on a damaged chunk; a checksum catches damage
// (a truncated copy, a bad disk, a fuzzer), though not a file crafted to
// pass it.
func checkChunk(r io.ReadSeeker, offset int64) error {
	buf := make([]byte, chunkSize)
	if _, err := r.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return fmt.Errorf("read chunk: %w", err)
	}
	h := crc32.NewIEEE()
	h.Write(buf[:headerCRCPart1End])
	h.Write(buf[headerCRCPart2:chunkHeaderSize])
	if got, want := h.Sum32(), binary.LittleEndian.Uint32(buf[offHeaderCRC:]); got != want {
		return fmt.Errorf("chunk header checksum %08x, header says %08x", got, want)
	}
	free := binary.LittleEndian.Uint32(buf[offFreeSpace:])
	if free < chunkHeaderSize || free > chunkSize {
		return fmt.Errorf("chunk free-space offset %d out of range", free)
	}
	if got, want := crc32.ChecksumIEEE(buf[chunkHeaderSize:free]), binary.LittleEndian.Uint32(buf[offRecordsCRC:]); got != want {
		return fmt.Errorf("chunk records checksum %08x, header says %08x", got, want)
	}
	return nil
}
