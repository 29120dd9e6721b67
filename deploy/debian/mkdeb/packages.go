package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2/files"
)

func file(src, dst string, mode uint32) *files.Content {
	return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: os.FileMode(mode), Owner: "root", Group: "root"}}
}

// conffile is a configuration file dpkg keeps on upgrade (asking only when
// both the admin and the new package changed it) and removes on purge.
func conffile(src, dst string, mode uint32) *files.Content {
	c := file(src, dst, mode)
	c.Type = files.TypeConfig
	return c
}

// serverPackage is lachan: the server and the operator's CLI. libpcap is
// for the network sensor (`lachan sensor`, `lachan pcap`).
func serverPackage(repo, bin, contentDir string) (pkg, error) {
	deb := filepath.Join(repo, "deploy", "debian", "lachan")
	font, err := fontLicence(repo)
	if err != nil {
		return pkg{}, err
	}
	shipped, err := contentFiles(contentDir)
	if err != nil {
		return pkg{}, err
	}
	return pkg{
		name:        "lachan",
		description: "Lá Chắn security monitoring server\n Agent API, ingest, Sigma detection, incidents, the four-layer model and national forwarding, with the operator's CLI.",
		depends:     []string{"libc6 (>= 2.34)", "libpcap0.8", "passwd"},
		scripts:     deb,
		contents: append(files.Contents{
			file(filepath.Join(bin, "lachan"), "/usr/bin/lachan", 0o755),
			file(filepath.Join(repo, "deploy", "systemd", "lachan.service"), "/lib/systemd/system/lachan.service", 0o644),
			conffile(filepath.Join(deb, "server.yml"), "/etc/lachan/server.yml", 0o640),
			conffile(filepath.Join(deb, "units.yml"), "/etc/lachan/units.yml", 0o640),
			// The reports embed DejaVu Sans, whose licence asks that its
			// notice go with every copy.
			file(font, "/usr/share/doc/lachan/LICENSE-DejaVu", 0o644),
		}, shipped...),
	}, nil
}

// Where the packaged server.yml looks for the shipped content pack and
// the release key it is signed with (content.default_pack,
// content.trusted_key_files).
const (
	shippedPack = "/usr/share/lachan/content/lachan-default.pack"
	shippedKey  = "/usr/share/lachan/content/release.pub"
)

// contentFiles are the default content pack and its release key, as
// `make content` (deploy/content/mkcontent) writes them into dir; none
// when dir is empty. The pack carries its rules' licences in its
// manifest (`lachan rules list --json`).
func contentFiles(dir string) (files.Contents, error) {
	if dir == "" {
		return nil, nil
	}
	var out files.Contents
	for src, dst := range map[string]string{"lachan-default.pack": shippedPack, "release.pub": shippedKey} {
		p := filepath.Join(dir, src)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("content pack (make content): %w", err)
		}
		out = append(out, file(p, dst, 0o644))
	}
	return out, nil
}

// fontLicence finds the licence of the font compiled into the server, in
// the module the build used.
func fontLicence(repo string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/go-fonts/dejavu")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("the DejaVu font module (for its licence): go list: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "LICENSE-DejaVu"), nil
}

// agentPackage is lachan-agent. osquery is recommended, not required: the
// agent works without it and says so once.
func agentPackage(repo, bin string) pkg {
	deb := filepath.Join(repo, "deploy", "debian", "lachan-agent")
	return pkg{
		name:        "lachan-agent",
		description: "Lá Chắn endpoint agent\n YARA scans of new and downloaded files, osquery results and Linux telemetry, shipped to the Lá Chắn server.",
		depends:     []string{"libc6 (>= 2.34)", "libyara9"},
		recommend:   []string{"osquery"},
		scripts:     deb,
		contents: files.Contents{
			file(filepath.Join(bin, "lachan-agent"), "/usr/bin/lachan-agent", 0o755),
			file(filepath.Join(repo, "deploy", "systemd", "lachan-agent.service"), "/lib/systemd/system/lachan-agent.service", 0o644),
			conffile(filepath.Join(repo, "agent", "cmd", "lachan-agent", "agent.yml"), "/etc/lachan/agent.yml", 0o600),
		},
	}
}
