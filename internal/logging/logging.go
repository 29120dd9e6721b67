// Package logging builds the slog loggers both binaries inject into their
// components: JSON in production, text for people at a terminal.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Config chooses the level and format.
type Config struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// DefaultConfig logs info and up as JSON.
func DefaultConfig() Config { return Config{Level: "info", Format: "json"} }

// Validate checks the level and format names.
func (c Config) Validate() error {
	if _, err := level(c.Level); err != nil {
		return err
	}
	switch c.Format {
	case "json", "text":
		return nil
	}
	return fmt.Errorf("log.format: %q is not json or text", c.Format)
}

func level(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("log.level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

// New returns a logger writing to w.
func New(c Config, w io.Writer) *slog.Logger {
	l, err := level(c.Level)
	if err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Discard is a logger that writes nothing, for tests and quiet commands.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
