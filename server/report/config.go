package report

import (
	"errors"
	"fmt"
	"time"
)

// Config is the reports' part of the server configuration.
type Config struct {
	// AgentMinFraction is the share of a system's agents that must report
	// on a day for its on-site layer to count as working that day.
	AgentMinFraction float64 `mapstructure:"agent_min_fraction"`
	// ScanMaxAge is how old a system's last full YARA scan may be before
	// the malware-protection control is not met.
	ScanMaxAge time.Duration `mapstructure:"scan_max_age"`
	// Schedule writes a monthly report per system into a folder.
	Schedule ScheduleConfig `mapstructure:"schedule"`
}

// ScheduleConfig is the monthly report run. An empty Dir turns it off.
type ScheduleConfig struct {
	Dir string `mapstructure:"dir"`
	// Lang is the reports' language (vi or en) and Format pdf or html.
	Lang   string `mapstructure:"lang"`
	Format string `mapstructure:"format"`
	// Check is how often the scheduler looks for a month without its
	// reports.
	Check time.Duration `mapstructure:"check"`
}

// DefaultConfig is the configuration without a file.
func DefaultConfig() Config {
	return Config{
		AgentMinFraction: 0.8,
		ScanMaxAge:       7 * 24 * time.Hour,
		Schedule:         ScheduleConfig{Lang: LangVI, Format: FormatPDF, Check: time.Hour},
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.AgentMinFraction <= 0 || c.AgentMinFraction > 1 {
		errs = append(errs, fmt.Errorf("report.agent_min_fraction %v: want more than 0 and at most 1", c.AgentMinFraction))
	}
	if c.ScanMaxAge < time.Hour {
		errs = append(errs, fmt.Errorf("report.scan_max_age %s: at least 1h", c.ScanMaxAge))
	}
	if c.Schedule.Dir != "" {
		if err := checkLang(c.Schedule.Lang); err != nil {
			errs = append(errs, fmt.Errorf("report.schedule.lang: %w", err))
		}
		if err := checkFormat(c.Schedule.Format); err != nil {
			errs = append(errs, fmt.Errorf("report.schedule.format: %w", err))
		}
		if c.Schedule.Check < time.Minute {
			errs = append(errs, fmt.Errorf("report.schedule.check %s: at least 1m", c.Schedule.Check))
		}
	}
	return errors.Join(errs...)
}
