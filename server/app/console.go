package app

import (
	"fmt"

	"lachan/server/console"
	"lachan/server/store"
)

// mountConsole builds the web interface and mounts it on the API at "/",
// with the rules loaded at start for its rules page.
func (s *Server) mountConsole(cfg console.Config, st store.Store) error {
	c, err := console.New(cfg, st, s.log)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	s.api.SetRulebook(&s.rulebook)
	s.api.MountConsole(c)
	return nil
}
