package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	version := fs.String("version", "", "package version (Debian form, e.g. 1.2.0 or 1.2.0~rc1); default: the VERSION file, else git describe")
	bin := fs.String("bin", "", "directory holding lachan and lachan-agent already built; default: build them")
	out := fs.String("out", "dist", "directory the .deb files are written to")
	repo := fs.String("repo", ".", "the repository's root")
	contentDir := fs.String("content", "", "directory holding the default content pack and its release key (make content); empty: none shipped")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" {
		var err error
		if *version, err = repoVersion(*repo); err != nil {
			return err
		}
	}
	v, err := debVersion(*version)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("output directory %s: %w", *out, err)
	}
	if *bin == "" {
		*bin = filepath.Join(*out, "bin")
		if err := buildBinaries(*repo, *bin, v); err != nil {
			return err
		}
	}
	server, err := serverPackage(*repo, *bin, *contentDir)
	if err != nil {
		return err
	}
	for _, p := range []pkg{server, agentPackage(*repo, *bin)} {
		path, err := build(p, v, *out)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		fmt.Println(path)
	}
	return nil
}

// versionRE is what dpkg accepts as an upstream version without an epoch
// or a revision: a digit first.
var versionRE = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// describeRE is git describe's TAG-N-gHASH[-dirty].
var describeRE = regexp.MustCompile(`^(.*)-([0-9]+)-g([0-9a-f]+)(-dirty)?$`)

// debVersion turns a tag or git describe output (v1.2.0-3-gabc1234) into
// a Debian version that sorts after the tag (1.2.0+3.gabc1234).
func debVersion(v string) (string, error) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if v == "" {
		return "", errors.New("-version is empty: give one, write a VERSION file, or tag the repository")
	}
	if m := describeRE.FindStringSubmatch(v); m != nil {
		v = m[1] + "+" + m[2] + ".g" + m[3]
		if m[4] != "" {
			v += ".dirty"
		}
	}
	if !versionRE.MatchString(v) {
		return "", fmt.Errorf("version %q: a Debian version starts with a digit and holds only letters, digits and . + ~", v)
	}
	return v, nil
}

// pkg is one package's description; contents are relative to the
// repository or the binary directory.
type pkg struct {
	name, description  string
	depends, recommend []string
	contents           files.Contents
	scripts            string // directory of postinst, prerm, postrm
}

func build(p pkg, version, outDir string) (string, error) {
	for _, c := range p.contents {
		if c.Source == "" {
			continue
		}
		if _, err := os.Stat(c.Source); err != nil {
			return "", fmt.Errorf("%s: %w (run make build first for the binaries)", c.Destination, err)
		}
	}
	info := &nfpm.Info{
		Name: p.name, Arch: "amd64", Platform: "linux", Version: version, VersionSchema: "none",
		Section: "admin", Priority: "optional", Maintainer: "Lá Chắn <lachan@localhost>",
		Description: p.description, Vendor: "Lá Chắn", Homepage: "https://localhost/lachan", License: "Proprietary",
		MTime: time.Unix(0, 0).UTC(),
		Overridables: nfpm.Overridables{
			Depends: p.depends, Recommends: p.recommend, Contents: p.contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(p.scripts, "postinst"),
				PreRemove:   filepath.Join(p.scripts, "prerm"),
				PostRemove:  filepath.Join(p.scripts, "postrm"),
			},
		},
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	packager, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	path := filepath.Join(outDir, fmt.Sprintf("%s_%s_amd64.deb", p.name, version))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := packager.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	return path, f.Close()
}
