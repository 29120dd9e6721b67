package enroll

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"time"

	"lachan/agent/client"
)

// Transient reports whether trying again later can mend err: the server
// could not be reached, or answered that it is busy or failing. A refused
// secret, a wrong fingerprint or a certificate that does not verify are
// not: they need a person.
func Transient(err error) bool {
	if errors.Is(err, ErrUnreachable) {
		return true
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Retry()
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
	)
	if errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify) {
		return false
	}
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue)
}

// Backoff bounds the waits between attempts.
type Backoff struct {
	First, Max time.Duration
}

// DefaultBackoff starts at 2 s and doubles up to a minute: a server back
// from a restart is found quickly, one down for a day costs a request a
// minute.
func DefaultBackoff() Backoff { return Backoff{First: 2 * time.Second, Max: time.Minute} }

// Retry calls f until it succeeds, fails with an error Transient does not
// accept, ctx ends, or (when giveUp > 0) giveUp has passed; it returns
// f's last error. Each wait is logged once, with the reason.
func Retry(ctx context.Context, b Backoff, giveUp time.Duration, log *slog.Logger, what string, f func(context.Context) error) error {
	var deadline time.Time
	if giveUp > 0 {
		deadline = time.Now().Add(giveUp)
	}
	wait := b.First
	for attempt := 1; ; attempt++ {
		err := f(ctx)
		if err == nil || !Transient(err) || ctx.Err() != nil {
			return err
		}
		// Jitter keeps a ward's PCs, all waiting for one server, apart.
		d := wait/2 + rand.N(wait/2+1)
		if !deadline.IsZero() && time.Now().Add(d).After(deadline) {
			return err
		}
		log.Warn(what+": trying again", "attempt", attempt, "in", d.Round(time.Second).String(), "err", err.Error())
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
		wait = min(2*wait, b.Max)
	}
}
