//go:build cgo

package tap

import (
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// readTimeout is how long a read waits for a packet before the loop
// looks at its clocks.
const readTimeout = 100 * time.Millisecond

// pcapSource reads from a live interface through libpcap.
type pcapSource struct{ h *pcap.Handle }

func openLive(cfg Config) (source, error) {
	h, err := pcap.OpenLive(cfg.Interface, int32(cfg.SnapLen), cfg.Promiscuous, readTimeout)
	if err != nil {
		return nil, fmt.Errorf("sensor: open interface %s: %w", cfg.Interface, err)
	}
	if cfg.Filter != "" {
		if err := h.SetBPFFilter(cfg.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("sensor: BPF filter %q: %w", cfg.Filter, err)
		}
	}
	return &pcapSource{h: h}, nil
}

func (s *pcapSource) read() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.h.ZeroCopyReadPacketData()
	if errors.Is(err, pcap.NextErrorTimeoutExpired) {
		return nil, ci, errTimeout
	}
	return data, ci, err
}

func (s *pcapSource) link() layers.LinkType { return s.h.LinkType() }

func (s *pcapSource) dropped() int64 {
	st, err := s.h.Stats()
	if err != nil {
		return 0
	}
	return int64(st.PacketsDropped + st.PacketsIfDropped)
}

func (s *pcapSource) close() { s.h.Close() }
