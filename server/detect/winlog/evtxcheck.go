package winlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// evtx layout: a 4 KiB file header, then chunks of 64 KiB, each a
// 512-byte header (its checksum covers bytes 0-119 and 128-511) followed by
// event records up to the free-space offset (their checksum is in the
// header too). A record is a 24-byte header (signature, size, record ID,
// time written), its binary XML, and its size again.
const (
	fileHeaderSize   = 4096
	fileMagic        = "ElfFile\x00"
	chunkMagic       = "ElfChnk\x00"
	recordMagic      = 0x00002a2a
	recordHeaderSize = 24

	chunkSize         = 0x10000
	chunkHeaderSize   = 512
	offFreeSpace      = 48
	offRecordsCRC     = 52
	offHeaderCRC      = 124
	headerCRCPart1End = 120
	headerCRCPart2    = 128
)

// checkChunk verifies a chunk's two checksums before its records are
// read: a checksum catches damage (a truncated copy, a bad disk), so that
// what follows reads what was written. The reader's bounds, not the
// checksums, are what keep a crafted file from doing harm.
func checkChunk(buf []byte) error {
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
