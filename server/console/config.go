package console

import "fmt"

// Config shapes the console.
type Config struct {
	// QueueLimit caps the rows of the incident queue.
	QueueLimit int `mapstructure:"queue_limit"`
	// AuditLimit caps the records of one audit page.
	AuditLimit int `mapstructure:"audit_limit"`
}

// DefaultConfig shows 200 incidents and 100 audit records a page.
func DefaultConfig() Config { return Config{QueueLimit: 200, AuditLimit: 100} }

// Validate checks the limits.
func (c Config) Validate() error {
	if c.QueueLimit < 1 || c.QueueLimit > 5000 {
		return fmt.Errorf("console.queue_limit %d: want 1 to 5000", c.QueueLimit)
	}
	if c.AuditLimit < 1 || c.AuditLimit > 1000 {
		return fmt.Errorf("console.audit_limit %d: want 1 to 1000", c.AuditLimit)
	}
	return nil
}
