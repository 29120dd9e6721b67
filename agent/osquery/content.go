package osquery

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"testing/fstest"

	"lachan/internal/bundle"
	"lachan/internal/querypack"
)

// ContentPacks reads the osquery packs of a verified rule bundle: the
// files under osquery/ (the server puts each content pack's packs under
// osquery/<content pack>/), each named after its file without the
// extension ("incident-response"), so that osqueryd names their results
// pack_incident-response_<query>. A file that does not parse, or whose
// name another file took first (in path order), is left out with an
// error; the others are used.
func ContentPacks(b bundle.Bundle) (map[string]Pack, []error) {
	var files []bundle.File
	for _, f := range b.Files {
		if strings.HasPrefix(f.Path, "osquery/") && (strings.HasSuffix(f.Path, ".conf") || strings.HasSuffix(f.Path, ".json")) {
			files = append(files, f)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	packs := map[string]Pack{}
	var errs []error
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f.Path), path.Ext(f.Path))
		if !querypack.ValidName(name) {
			errs = append(errs, fmt.Errorf("%s: pack name %q: letters, digits, '_' or '-' only", f.Path, name))
			continue
		}
		if _, dup := packs[name]; dup {
			errs = append(errs, fmt.Errorf("%s: a pack named %s came earlier in the bundle", f.Path, name))
			continue
		}
		p, err := querypack.Load(fstest.MapFS{f.Path: {Data: f.Data}}, f.Path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		packs[name] = p
	}
	return packs, errs
}
