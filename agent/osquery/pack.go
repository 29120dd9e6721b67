package osquery

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"time"

	"lachan/internal/querypack"
)

// Config says where osqueryd's extension socket is.
type Config struct {
	// Socket is osqueryd's --extensions_socket path.
	Socket string `json:"socket"`
	// Timeout bounds connecting and each query.
	Timeout time.Duration `json:"timeout"`
}

// DefaultConfig returns osqueryd's default socket for this platform.
func DefaultConfig() Config {
	sock := "/var/osquery/osquery.em"
	if runtime.GOOS == "windows" {
		sock = `\\.\pipe\osquery.em`
	}
	return Config{Socket: sock, Timeout: 10 * time.Second}
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Socket == "" {
		errs = append(errs, errors.New("osquery: socket must be set"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("osquery: timeout %s: must be positive", c.Timeout))
	}
	return errors.Join(errs...)
}

// Pack and Query are osquery packs as internal/querypack reads them.
type (
	Pack  = querypack.Pack
	Query = querypack.Query
)

// LoadPack reads an osquery pack file (see querypack.Load).
func LoadPack(fsys fs.FS, path string) (Pack, error) { return querypack.Load(fsys, path) }

func validName(s string) bool { return querypack.ValidName(s) }

const maxInterval = querypack.MaxInterval

// runsOn says whether a query's platform list includes this system.
func runsOn(platform, goos string) bool {
	if platform == "" {
		return true
	}
	for _, p := range strings.Split(platform, ",") {
		switch p = strings.TrimSpace(p); p {
		case "all", "any", goos:
			return true
		case "posix":
			if goos != "windows" {
				return true
			}
		}
	}
	return false
}
