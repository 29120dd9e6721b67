package content

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
)

// ActorPackage is who installs the pack shipped with the server, in
// changes.jsonl and the audit trail.
const ActorPackage = "package:lachan"

// InstallShipped installs the pack in file, verified against the trusted
// keys, when the directory holds no version of its name yet (a fresh
// install), or when its version is none of those kept and it was made
// after the active one (a package upgrade bringing newer content). A
// version rolled back from stays kept, so it is not installed again; an
// older shipped pack never replaces newer content. It reports whether it
// installed. The rules were checked when the pack was built; the server
// loading them reports any that does not load.
func (d Dir) InstallShipped(file string, trusted []ed25519.PublicKey) (Change, bool, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return Change{}, false, nil
	}
	if err != nil {
		return Change{}, false, fmt.Errorf("shipped content pack: %w", err)
	}
	defer f.Close()
	p, s, err := Read(f, trusted)
	if err != nil {
		return Change{}, false, fmt.Errorf("shipped content pack %s: %w", file, err)
	}
	name := p.Manifest.Name
	st, err := d.readState(name)
	switch {
	case errors.Is(err, ErrNotInstalled):
	case err != nil:
		return Change{}, false, err
	case st.Active == p.Manifest.Version || st.Previous == p.Manifest.Version:
		return Change{}, false, nil
	default:
		active := d.open(name, st.Active, true, trusted)
		if active.Problem == "" && !p.Manifest.Created.After(active.Manifest.Created) {
			return Change{}, false, nil
		}
	}
	ch, err := d.Install(s, p, ActorPackage)
	if err != nil {
		return Change{}, false, err
	}
	return ch, true, nil
}
