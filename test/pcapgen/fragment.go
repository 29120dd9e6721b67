package pcapgen

import (
	"encoding/binary"
	"slices"
)

// writeFragments writes an Ethernet/IPv4 frame (20-byte header) as IPv4
// fragments of g.fragSize payload bytes each.
func (g *gen) writeFragments(frame []byte) error {
	const ethLen, ipLen = 14, 20
	// The frame may carry Ethernet padding after the datagram.
	payload := frame[ethLen+ipLen : ethLen+int(binary.BigEndian.Uint16(frame[ethLen+2:]))]
	var frags [][]byte
	for off := 0; off < len(payload); off += g.fragSize {
		end := min(off+g.fragSize, len(payload))
		f := make([]byte, 0, ethLen+ipLen+end-off)
		f = append(f, frame[:ethLen+ipLen]...)
		f = append(f, payload[off:end]...)
		ip := f[ethLen : ethLen+ipLen]
		binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+end-off))
		flags := uint16(off / 8)
		if end < len(payload) {
			flags |= 0x2000 // more fragments
		}
		binary.BigEndian.PutUint16(ip[6:], flags)
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
		frags = append(frags, f)
	}
	g.fragmented++
	if g.fragmented%2 == 0 {
		slices.Reverse(frags)
	}
	for _, f := range frags {
		if err := g.writeFrame(f); err != nil {
			return err
		}
	}
	return nil
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
