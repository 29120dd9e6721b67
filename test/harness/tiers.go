package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The ward's registration at the city: its sender name and the token it
// presents.
const (
	WardName  = "phuong-ben-thanh"
	WardToken = "ward-upstream-token-0123456789abcdef"
)

// Tiers are a ward server forwarding its incidents to a city server, both
// on loopback, the ward registered at the city as sender WardName with
// its signing key and token. Each server keeps its configuration in its
// directory, so StartServer on CityDir or WardDir restarts it as it was.
type Tiers struct {
	Bin                string
	CityDir, WardDir   string
	CityAddr, WardAddr string
	City, Ward         *Server
	// CityPub and WardPub are the servers' forwarding public keys.
	CityPub, WardPub string
}

// TierOptions shape the tiers' configuration.
type TierOptions struct {
	// WardConfig is YAML appended to the ward's configuration, for
	// top-level sections the default leaves out (e.g. "incident:").
	WardConfig string
}

// WriteFile writes body to path, making its directory.
func WriteFile(path, body string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(body), 0o600)
}

// PublicKey makes the forwarding signing key of a server that has not
// started yet, in dir, and returns its public half, as an operator does
// to register the server at the tier above.
func PublicKey(ctx context.Context, bin, dir, addr string) (string, error) {
	cfg := filepath.Join(dir, "keys.yml")
	if err := WriteFile(cfg, fmt.Sprintf("data_dir: %s\napi:\n  listen: %s\n", filepath.Join(dir, "data"), addr)); err != nil {
		return "", err
	}
	s := &Server{Bin: bin, Config: cfg}
	out, err := s.CLI(ctx, "forward", "pubkey")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// StartTiers configures a city and a ward server under root and starts
// both, the city first.
func StartTiers(ctx context.Context, bin, root string, o TierOptions) (*Tiers, error) {
	tt := &Tiers{Bin: bin, CityDir: filepath.Join(root, "city"), WardDir: filepath.Join(root, "ward")}
	var err error
	if tt.CityAddr, err = FreeAddr(); err != nil {
		return nil, err
	}
	if tt.WardAddr, err = FreeAddr(); err != nil {
		return nil, err
	}
	if tt.CityPub, err = PublicKey(ctx, bin, tt.CityDir, tt.CityAddr); err != nil {
		return nil, err
	}
	if tt.WardPub, err = PublicKey(ctx, bin, tt.WardDir, tt.WardAddr); err != nil {
		return nil, err
	}
	if err := tt.writeCity(); err != nil {
		return nil, err
	}
	if tt.City, err = StartServer(ctx, bin, tt.CityDir); err != nil {
		return nil, err
	}
	if err := tt.writeWard(o); err != nil {
		tt.Stop()
		return nil, err
	}
	if tt.Ward, err = StartServer(ctx, bin, tt.WardDir); err != nil {
		tt.Stop()
		return nil, err
	}
	return tt, nil
}

func (tt *Tiers) writeCity() error {
	sum := sha256.Sum256([]byte(WardToken))
	if err := WriteFile(filepath.Join(tt.CityDir, "units.yml"), "units:\n  - id: hcm\n    name: Thành phố Hồ Chí Minh\n  - id: "+Unit+"\n    name: Phường Bến Thành\n    parent: hcm\n"); err != nil {
		return err
	}
	return WriteFile(filepath.Join(tt.CityDir, "server.yml"), fmt.Sprintf(`data_dir: %s
units_file: %s
api:
  listen: %s
log:
  level: debug
  format: text
forward:
  name: hcm
  receive:
    senders:
      - name: %s
        unit: %s
        public_key: %s
        token_sha256: %s
`, filepath.Join(tt.CityDir, "data"), filepath.Join(tt.CityDir, "units.yml"), tt.CityAddr, WardName, Unit, tt.WardPub, hex.EncodeToString(sum[:])))
}

func (tt *Tiers) writeWard(o TierOptions) error {
	if err := WriteFile(filepath.Join(tt.WardDir, "units.yml"), fmt.Sprintf("units:\n  - id: %s\n    name: Phường Bến Thành\n    enroll_secret: %s\n", Unit, EnrollSecret)); err != nil {
		return err
	}
	return WriteFile(filepath.Join(tt.WardDir, "server.yml"), fmt.Sprintf(`data_dir: %s
units_file: %s
api:
  listen: %s
  checkin_interval: 2s
log:
  level: debug
  format: text
forward:
  name: %s
  min_severity: low
  scan_interval: 300ms
  upstream:
    url: https://%s
    ca_file: %s
    token: %s
    public_key: %s
    indicator_interval: 1s
  delivery:
    min_backoff: 200ms
    max_backoff: 1s
    poll_interval: 500ms
    timeout: 10s
`, filepath.Join(tt.WardDir, "data"), filepath.Join(tt.WardDir, "units.yml"), tt.WardAddr, WardName, tt.CityAddr, tt.City.CAFile(), WardToken, tt.CityPub)+o.WardConfig)
}

// Stop stops whichever of the two servers runs.
func (tt *Tiers) Stop() {
	if tt.Ward != nil {
		tt.Ward.Stop()
	}
	if tt.City != nil {
		tt.City.Stop()
	}
}
