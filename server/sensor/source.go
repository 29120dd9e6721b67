package sensor

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ErrNotCapture is returned when the input is neither a pcap nor a pcapng
// file (nor either of them gzip-compressed).
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// record is one packet read from a capture. data is owned by the source
// and valid only until the next call to next.
type record struct {
	data   []byte
	ci     gopacket.CaptureInfo
	link   layers.LinkType
	offset int64 // byte offset of the record in the (uncompressed) file; -1 when unknown
}

type packetSource interface {
	next() (record, error)
}

var (
	magicPcapng = []byte{0x0a, 0x0d, 0x0d, 0x0a}
	magicGzip   = []byte{0x1f, 0x8b}
)

func isPcapMagic(m []byte) bool {
	switch string(m) {
	case "\xd4\xc3\xb2\xa1", "\xa1\xb2\xc3\xd4", // microseconds, little and big endian
		"\x4d\x3c\xb2\xa1", "\xa1\xb2\x3c\x4d": // nanoseconds
		return true
	}
	return false
}

// readBuffer is the size of the buffer in front of the capture reader;
// larger ones read no faster.
const readBuffer = 16 << 10

// openSource recognises the capture format by its magic number.
func openSource(r io.Reader) (packetSource, error) {
	br := bufio.NewReaderSize(r, readBuffer)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w: reading magic number: %v", ErrNotCapture, err)
	}
	if bytes.HasPrefix(magic, magicGzip) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip header: %w", err)
		}
		br = bufio.NewReaderSize(zr, readBuffer)
		if magic, err = br.Peek(4); err != nil {
			return nil, fmt.Errorf("%w: reading magic number after gzip: %v", ErrNotCapture, err)
		}
	}
	switch {
	case bytes.Equal(magic, magicPcapng):
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("pcapng section header: %w", err)
		}
		return &ngSource{r: ng}, nil
	case isPcapMagic(magic):
		ps, err := newPcapSource(br)
		if err != nil {
			return nil, fmt.Errorf("pcap file header: %w", err)
		}
		return ps, nil
	}
	return nil, fmt.Errorf("%w: magic number %x", ErrNotCapture, magic)
}

// ngSource reads pcapng, whose blocks carry options of any length, so the
// byte offset of a packet is not tracked.
type ngSource struct {
	r *pcapgo.NgReader
}

func (s *ngSource) next() (record, error) {
	data, ci, err := s.r.ZeroCopyReadPacketData()
	rec := record{data: data, ci: ci, link: s.r.LinkType(), offset: -1}
	if len(ci.AncillaryData) > 0 {
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			rec.link = lt
		}
	}
	return rec, err
}

// firstLayer names the layer a frame of the given link type starts with.
func firstLayer(link layers.LinkType, data []byte) (gopacket.LayerType, bool) {
	switch link {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, true
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4, true
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6, true
	case layers.LinkTypeRaw, 12, 14: // DLT_RAW is 12 or 14 on some BSDs
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6, true
		}
		return layers.LayerTypeIPv4, true
	}
	return 0, false
}
