package hunt

import (
	"errors"
	"fmt"
)

// Config holds the parser's settings.
type Config struct {
	// TextFields are the fields a bare word searches.
	TextFields []string `mapstructure:"text_fields"`
	// MaxLength bounds a query in bytes.
	MaxLength int `mapstructure:"max_length"`
	// MaxDepth bounds the nesting of parentheses and nots.
	MaxDepth int `mapstructure:"max_depth"`
}

// DefaultConfig returns the text fields analysts most often search and
// limits generous for hand-typed queries.
func DefaultConfig() Config {
	return Config{
		TextFields: []string{
			"message", "process.command_line", "process.name", "file.path", "file.name",
			"dns.question.name", "url.original", "rule.name", "user.name", "host.name",
		},
		MaxLength: 8 << 10,
		MaxDepth:  50,
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.TextFields) == 0 {
		errs = append(errs, errors.New("hunt text_fields: at least one field needed"))
	}
	for i, f := range c.TextFields {
		if !validField(f) {
			errs = append(errs, fmt.Errorf("hunt text_fields[%d]: %q is not a field name", i, f))
		}
	}
	if c.MaxLength < 16 {
		errs = append(errs, fmt.Errorf("hunt max_length %d: at least 16 needed", c.MaxLength))
	}
	// Deeper than the store allows could not be evaluated.
	if c.MaxDepth < 1 || c.MaxDepth > 90 {
		errs = append(errs, fmt.Errorf("hunt max_depth %d: must be from 1 to 90", c.MaxDepth))
	}
	return errors.Join(errs...)
}

// validField reports whether s may name a field: the characters of ECS
// names, and @ for @timestamp.
func validField(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@') {
			return false
		}
	}
	return true
}
