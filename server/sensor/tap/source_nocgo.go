//go:build !cgo

package tap

import "errors"

func openLive(Config) (source, error) {
	return nil, errors.New("sensor: live capture needs a build with cgo and libpcap (CGO_ENABLED=1)")
}
