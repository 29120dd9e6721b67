package api

import (
	"context"
	"slices"
)

// maxUnitDepth bounds the walk up the unit tree (a cycle cannot be
// stored, but a bound costs nothing).
const maxUnitDepth = 64

// unitChain returns the IDs from the root of the unit tree down to unit.
func (s *Server) unitChain(ctx context.Context, unit string) ([]string, error) {
	var chain []string
	for id := unit; id != "" && len(chain) < maxUnitDepth; {
		chain = append(chain, id)
		u, err := s.d.Units.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		id = u.Parent
	}
	slices.Reverse(chain)
	return chain, nil
}
