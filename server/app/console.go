package app

import (
	"fmt"
	"log/slog"

	"lachan/server/console"
	"lachan/server/store"
)

// newConsole builds the web interface the API serves at "/".
func newConsole(st store.Store, log *slog.Logger) (*console.Console, error) {
	c, err := console.New(console.DefaultConfig(), st, log)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return c, nil
}
