package console

import (
	"fmt"

	"lachan/server/incident"
)

// Config shapes the console.
type Config struct {
	// QueueLimit is the rows of one page of the incident queue.
	QueueLimit int `mapstructure:"queue_limit"`
	// AuditLimit caps the records of one audit page.
	AuditLimit int `mapstructure:"audit_limit"`
	// CaptureDir is the rolling capture of a sensor on this machine
	// (sensor.capture.dir): the incident page links each flow of its
	// evidence to that flow's packets there. Empty: no links.
	CaptureDir string `mapstructure:"capture_dir"`
}

// DefaultConfig shows 50 incidents and 100 audit records a page.
func DefaultConfig() Config { return Config{QueueLimit: 50, AuditLimit: 100} }

// Validate checks the limits.
func (c Config) Validate() error {
	if c.QueueLimit < 1 || c.QueueLimit > incident.MaxPage {
		return fmt.Errorf("console.queue_limit %d: want 1 to %d", c.QueueLimit, incident.MaxPage)
	}
	if c.AuditLimit < 1 || c.AuditLimit > 1000 {
		return fmt.Errorf("console.audit_limit %d: want 1 to 1000", c.AuditLimit)
	}
	return nil
}
