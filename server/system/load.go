package system

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
)

// File is the form of a systems file: {systems: [...]}.
type File struct {
	Systems []System `yaml:"systems"`
}

// LoadFile reads a systems file (see Parse).
func LoadFile(path string) ([]System, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("systems file: %w", err)
	}
	return Parse(path, b)
}

// Parse reads systems from YAML strictly: an unknown or misplaced key, a
// value of the wrong type, an invalid field or an ID given twice is an
// error naming file:line:col and the field. It reports every error it
// finds, not only the first.
func Parse(file string, b []byte) ([]System, error) {
	root, pos, err := yamlDoc(file, b, reflect.TypeOf(File{}))
	if err != nil {
		return nil, err
	}
	var f File
	if err := root.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s:%s", file, yamlMsg(err))
	}
	var errs []error
	seen := map[string]int{}
	for i, s := range f.Systems {
		prefix := "systems[" + strconv.Itoa(i) + "]"
		if err := s.Validate(); err != nil {
			errs = append(errs, placeErrors(file, pos, prefix, err)...)
		}
		if j, dup := seen[s.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: %s.id: %q is already given at systems[%d]", at(file, pos, prefix+".id"), prefix, s.ID, j))
		}
		seen[s.ID] = i
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f.Systems, nil
}
