package notify

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"time"
)

// Channel types.
const (
	TypeEmail   = "email"
	TypeWebhook = "webhook"
)

// Config is the notification channels and how the queue delivers.
type Config struct {
	// Channels are the ways out, each with the name playbooks' notify
	// steps use.
	Channels []Channel `mapstructure:"channels"`
	// MaxAttempts: a message that failed this many times is set aside
	// (dead) and tried no more.
	MaxAttempts int `mapstructure:"max_attempts"`
	// MinBackoff and MaxBackoff bound the wait before a retry, which
	// doubles from the first to the second.
	MinBackoff time.Duration `mapstructure:"min_backoff"`
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
	// Poll is how often the queue looks for messages due.
	Poll time.Duration `mapstructure:"poll"`
	// Lease is how long one sender holds a message; past it another
	// sender (or this one after a restart) may try it.
	Lease time.Duration `mapstructure:"lease"`
	// Timeout bounds one delivery attempt.
	Timeout time.Duration `mapstructure:"timeout"`
	// Keep is how long sent and dead messages stay listed.
	Keep time.Duration `mapstructure:"keep"`
}

// Channel is one way out: an email address list or a webhook.
type Channel struct {
	Name string `mapstructure:"name"`
	Type string `mapstructure:"type"`

	// SMTP is the mail server's host:port; the connection must switch to
	// TLS with STARTTLS before anything is sent.
	SMTP string   `mapstructure:"smtp"`
	From string   `mapstructure:"from"`
	To   []string `mapstructure:"to"`
	// Username and PasswordFile log in (PLAIN, over TLS only); the
	// password is read from the file at each attempt and never logged.
	Username     string `mapstructure:"username"`
	PasswordFile string `mapstructure:"password_file"`
	// InsecureLoopback allows a mail server on a loopback address without
	// STARTTLS (tests, a local relay); never any other address.
	InsecureLoopback bool `mapstructure:"insecure_loopback"`

	// URL is the webhook's address (https only).
	URL string `mapstructure:"url"`
	// SecretFile holds the HMAC-SHA256 key the webhook's requests are
	// signed with (at least 32 bytes).
	SecretFile string `mapstructure:"secret_file"`

	// CAFile, when set, is the only CA trusted for the mail server's or the
	// webhook's certificate; otherwise the system's roots are.
	CAFile string `mapstructure:"ca_file"`
	// ServerName, when set, is the name checked in the server's
	// certificate (default: the host of SMTP or URL).
	ServerName string `mapstructure:"server_name"`
}

// DefaultConfig has no channels, tries a message 12 times from 30 seconds
// apart up to an hour apart (about half a day in all), and keeps sent and
// dead messages for 30 days.
func DefaultConfig() Config {
	return Config{
		MaxAttempts: 12, MinBackoff: 30 * time.Second, MaxBackoff: time.Hour,
		Poll: 5 * time.Second, Lease: 2 * time.Minute, Timeout: 30 * time.Second, Keep: 30 * 24 * time.Hour,
	}
}

var channelNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate checks the queue's settings and every channel.
func (c Config) Validate() error {
	var errs []error
	if c.MaxAttempts < 1 || c.MaxAttempts > 1000 {
		errs = append(errs, errors.New("notify: max_attempts must be from 1 to 1000"))
	}
	if c.MinBackoff < time.Second || c.MaxBackoff < c.MinBackoff {
		errs = append(errs, errors.New("notify: min_backoff must be at least 1s and max_backoff at least min_backoff"))
	}
	if c.Poll < 10*time.Millisecond || c.Lease < time.Second || c.Timeout < time.Second || c.Lease <= c.Timeout {
		errs = append(errs, errors.New("notify: poll, lease and timeout must be positive, and lease longer than timeout"))
	}
	if c.Keep < time.Hour {
		errs = append(errs, errors.New("notify: keep must be at least 1h"))
	}
	seen := map[string]bool{}
	for i, ch := range c.Channels {
		n := ch.Name
		if !channelNameRE.MatchString(n) {
			errs = append(errs, fmt.Errorf("notify.channels[%d]: name %q must be lower-case letters, digits, - and _", i, n))
		}
		if seen[n] {
			errs = append(errs, fmt.Errorf("notify.channels[%d]: name %q is used twice", i, n))
		}
		seen[n] = true
		if err := ch.validate(); err != nil {
			errs = append(errs, fmt.Errorf("notify.channels.%s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// Channel returns the channel of that name.
func (c Config) Channel(name string) (Channel, bool) {
	for _, ch := range c.Channels {
		if ch.Name == name {
			return ch, true
		}
	}
	return Channel{}, false
}

func (ch Channel) validate() error {
	switch ch.Type {
	case TypeEmail:
		host, _, err := net.SplitHostPort(ch.SMTP)
		if err != nil || host == "" {
			return fmt.Errorf("smtp must be host:port (got %q)", ch.SMTP)
		}
		if _, err := mail.ParseAddress(ch.From); err != nil {
			return fmt.Errorf("from %q: %w", ch.From, err)
		}
		if len(ch.To) == 0 {
			return errors.New("to must name at least one address")
		}
		for _, a := range ch.To {
			if _, err := mail.ParseAddress(a); err != nil {
				return fmt.Errorf("to %q: %w", a, err)
			}
		}
		if ch.InsecureLoopback && !isLoopback(host) {
			return fmt.Errorf("insecure_loopback is for a mail server on a loopback address, not %s", host)
		}
		if (ch.Username == "") != (ch.PasswordFile == "") {
			return errors.New("username and password_file go together")
		}
	case TypeWebhook:
		u, err := url.Parse(ch.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("url must be an https:// address (got %q)", ch.URL)
		}
		if ch.SecretFile == "" {
			return errors.New("secret_file must name the file of the signing key")
		}
	default:
		return fmt.Errorf("type must be %s or %s (got %q)", TypeEmail, TypeWebhook, ch.Type)
	}
	return nil
}

// isLoopback reports whether host is a loopback address or localhost.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
