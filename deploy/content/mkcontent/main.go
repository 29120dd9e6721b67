package main

import (
	"crypto/ed25519"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"lachan/server/content"
	"lachan/test/shareddata"
)

// Files mkcontent writes into -out, which mkdeb takes from there.
const (
	PackFile = "lachan-default.pack"
	KeyFile  = "release.pub"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkcontent:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkcontent", flag.ContinueOnError)
	data := fs.String("data", "", "third-party data directory (default: $LACHAN_SHARED_DATA, else ../shared/data beside the repository)")
	osq := fs.String("osquery", "", "directory of osquery packs to ship instead of the project's own (rules/osquery)")
	osqSource := fs.String("osquery-source", "", "where the -osquery packs came from (repository and commit)")
	osqLicence := fs.String("osquery-licence", "", "licence file of the -osquery packs")
	key := fs.String("key", defaultKey(), "release signing key; made here (0600) when it does not exist")
	version := fs.String("version", time.Now().UTC().Format("2006.01.02.1504"), "pack version")
	out := fs.String("out", "dist/content", "directory to write "+PackFile+" and "+KeyFile+" into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		d, ok := shareddata.Path()
		if !ok {
			return fmt.Errorf("third-party data not found at %s: give -data DIR or LACHAN_SHARED_DATA", d)
		}
		*data = d
	}
	priv, made, err := releaseKey(*key)
	if err != nil {
		return err
	}
	if made {
		fmt.Fprintf(os.Stderr, "made the release content key %s (keep it; packs signed with another key are not trusted by installed servers)\n", *key)
	}
	src := Sources{Data: *data, Osquery: *osq, OsquerySource: *osqSource, OsqueryLicence: *osqLicence}
	p, rep, err := Build(content.Manifest{Name: "lachan-default", Version: *version, Created: time.Now()}, src)
	if err != nil {
		return err
	}
	s, err := content.Sign(p, priv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(*out, PackFile))
	if err != nil {
		return err
	}
	if err := s.Encode(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, KeyFile), []byte(content.PublicKeyText(s.Key)+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: lachan-default %s signed by %s: %d Sigma rules, %d correlation rules, %d osquery queries; %s\n",
		filepath.Join(*out, PackFile), *version, content.KeyID(s.Key), rep.Sigma, rep.Correlations, rep.Osquery, summary(p.Manifest))
	return nil
}

// defaultKey is $LACHAN_CONTENT_KEY, else content.key in lachan/release
// under the user's configuration directory: outside the repository.
func defaultKey() string {
	if k := os.Getenv("LACHAN_CONTENT_KEY"); k != "" {
		return k
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "lachan", "release", "content.key")
}

func releaseKey(path string) (priv ed25519.PrivateKey, made bool, err error) {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, err
		}
		if _, err := content.GenerateKey(path); err != nil {
			return nil, false, err
		}
		made = true
	}
	k, err := content.LoadPrivateKey(path)
	return k, made, err
}
