package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"strings"
	"time"

	"lachan/internal/tlsconf"
)

// permanent marks an error that no retry mends: the message goes dead.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// ErrNoTLS: the mail server does not offer STARTTLS and the channel does
// not allow plain text (only a loopback server may be allowed).
var ErrNoTLS = errors.New("the mail server does not offer STARTTLS; refusing to send in clear text")

// tlsConfig trusts the channel's CA file only, or the system's roots.
func tlsConfig(ch Channel, host string) (*tls.Config, error) {
	var roots *x509.CertPool
	if ch.CAFile != "" {
		pem, err := os.ReadFile(ch.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, permanent{fmt.Errorf("ca_file %s holds no PEM certificate", ch.CAFile)}
		}
	}
	tc := tlsconf.WithRoots(roots)
	tc.ServerName = host
	if ch.ServerName != "" {
		tc.ServerName = ch.ServerName
	}
	return tc, nil
}

// sendMail delivers m through the channel's mail server: EHLO, STARTTLS
// (required), AUTH PLAIN when a user is set, MAIL, RCPT, DATA. It is done
// once the server has answered DATA with success.
func sendMail(ctx context.Context, ch Channel, m Message, now time.Time) error {
	host, _, err := net.SplitHostPort(ch.SMTP)
	if err != nil {
		return permanent{fmt.Errorf("smtp %q: %w", ch.SMTP, err)}
	}
	body, err := buildMail(m, ch.From, ch.To, now)
	if err != nil {
		return permanent{err}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ch.SMTP)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", ch.SMTP, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: %w", ch.SMTP, err)
	}
	defer c.Close()
	if err := c.Hello("lachan"); err != nil {
		return fmt.Errorf("smtp %s: EHLO: %w", ch.SMTP, err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc, err := tlsConfig(ch, host)
		if err != nil {
			return err
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("smtp %s: STARTTLS: %w", ch.SMTP, err)
		}
	} else if !(ch.InsecureLoopback && isLoopback(host)) {
		return permanent{fmt.Errorf("smtp %s: %w", ch.SMTP, ErrNoTLS)}
	}
	if ch.Username != "" {
		pw, err := os.ReadFile(ch.PasswordFile)
		if err != nil {
			return fmt.Errorf("smtp password_file: %w", err)
		}
		if err := c.Auth(smtp.PlainAuth("", ch.Username, strings.TrimSpace(string(pw)), host)); err != nil {
			return fmt.Errorf("smtp %s: login as %s: %w", ch.SMTP, ch.Username, err)
		}
	}
	if err := c.Mail(ch.From); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", ch.SMTP, err)
	}
	for _, to := range ch.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %s: %w", ch.SMTP, to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", ch.SMTP, err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", ch.SMTP, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: message refused: %w", ch.SMTP, err)
	}
	// Sent: QUIT's answer does not change that.
	_ = c.Quit()
	return nil
}
