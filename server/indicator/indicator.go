package indicator

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"lachan/internal/event"
)

// The indicator types. An IP indicator's value is an address or a network
// in CIDR notation.
const (
	TypeMD5    = "md5"
	TypeSHA1   = "sha1"
	TypeSHA256 = "sha256"
	TypeDomain = "domain"
	TypeIP     = "ip"
	TypeURL    = "url"
)

// Types lists every indicator type.
var Types = []string{TypeMD5, TypeSHA1, TypeSHA256, TypeDomain, TypeIP, TypeURL}

// Indicator is one observable value known to be bad.
type Indicator struct {
	// ID identifies the indicator in a Set: adding another with the same
	// ID replaces it. A STIX indicator with one value keeps the STIX object
	// ID; one with several values gets the object ID plus "#n" per value.
	ID    string `json:"id"`
	Type  string `json:"type"`
	Value string `json:"value"`
	// Source says where it came from (a file name, a feed, an upper tier).
	Source string `json:"source,omitempty"`
	// STIXID is the STIX indicator object the value came from, if any.
	STIXID      string `json:"stix_id,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// ValidFrom and ValidUntil bound when the indicator matches; a zero
	// value is unbounded.
	ValidFrom  time.Time `json:"valid_from,omitempty"`
	ValidUntil time.Time `json:"valid_until,omitempty"`
	Labels     []string  `json:"labels,omitempty"`
	// Confidence is STIX's 0–100 confidence; 0 when not given.
	Confidence int `json:"confidence,omitempty"`
	// Added is when this server first took the indicator.
	Added time.Time `json:"added,omitempty"`
}

// ActiveAt reports whether the indicator's validity covers t.
func (ind Indicator) ActiveAt(t time.Time) bool {
	if !ind.ValidFrom.IsZero() && t.Before(ind.ValidFrom) {
		return false
	}
	return ind.ValidUntil.IsZero() || t.Before(ind.ValidUntil)
}

// Check normalises the value for its type and fills a missing ID. It fails
// naming the value when the value is not of the type.
func (ind *Indicator) Check() error {
	v, err := Normalize(ind.Type, ind.Value)
	if err != nil {
		return err
	}
	ind.Value = v
	if ind.ID == "" {
		ind.ID = event.DeriveID("indicator", ind.Type, ind.Value)
	}
	if len(ind.ID) > 256 {
		return fmt.Errorf("indicator id %.40q…: longer than 256 bytes", ind.ID)
	}
	if !ind.ValidFrom.IsZero() && !ind.ValidUntil.IsZero() && !ind.ValidUntil.After(ind.ValidFrom) {
		return fmt.Errorf("indicator %s: valid_until %s is not after valid_from %s", ind.ID,
			ind.ValidUntil.Format(time.RFC3339), ind.ValidFrom.Format(time.RFC3339))
	}
	return nil
}

// Normalize returns the canonical form of a value of a type: hashes and
// domains lower-case, addresses and networks in their canonical text, URLs
// with scheme and host lower-cased.
func Normalize(typ, value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", fmt.Errorf("%s indicator: empty value", typ)
	}
	switch typ {
	case TypeMD5, TypeSHA1, TypeSHA256:
		return normHash(typ, v)
	case TypeDomain:
		return normDomain(v)
	case TypeIP:
		return normIP(v)
	case TypeURL:
		return normURL(v)
	}
	return "", fmt.Errorf("unknown indicator type %q (want one of %s)", typ, strings.Join(Types, ", "))
}

var hashLen = map[string]int{TypeMD5: 32, TypeSHA1: 40, TypeSHA256: 64}

func normHash(typ, v string) (string, error) {
	if len(v) != hashLen[typ] {
		return "", fmt.Errorf("%s indicator %.80q: %d hex digits, want %d", typ, v, len(v), hashLen[typ])
	}
	if _, err := hex.DecodeString(v); err != nil {
		return "", fmt.Errorf("%s indicator %.80q: not hexadecimal", typ, v)
	}
	return strings.ToLower(v), nil
}

func normDomain(v string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(v, "."))
	if len(d) > 253 || d == "" {
		return "", fmt.Errorf("domain indicator %.80q: not a domain name", v)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("domain indicator %.80q: empty or over-long label", v)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80) {
				return "", fmt.Errorf("domain indicator %.80q: character %q not allowed", v, c)
			}
		}
	}
	return d, nil
}

func normIP(v string) (string, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", fmt.Errorf("ip indicator %.80q: %w", v, err)
		}
		p = p.Masked()
		if p.IsSingleIP() {
			return p.Addr().Unmap().String(), nil
		}
		return p.String(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return "", fmt.Errorf("ip indicator %.80q: %w", v, err)
	}
	return a.Unmap().WithZone("").String(), nil
}

func normURL(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil {
		return "", fmt.Errorf("url indicator %.80q: %w", v, err)
	}
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("url indicator %.80q: needs a scheme and a host", v)
	}
	// Only scheme and host are case-insensitive; the rest is kept as given.
	rest := v[len(u.Scheme)+3:]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[i:]
	} else {
		rest = ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + rest, nil
}

// Infer guesses the type of a bare value, as a plain list gives it.
func Infer(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if _, err := hex.DecodeString(v); err == nil {
		switch len(v) {
		case 32:
			return TypeMD5, true
		case 40:
			return TypeSHA1, true
		case 64:
			return TypeSHA256, true
		}
	}
	if strings.Contains(v, "://") {
		return TypeURL, true
	}
	if _, err := normIP(v); err == nil {
		return TypeIP, true
	}
	if strings.Contains(v, ".") {
		if _, err := normDomain(v); err == nil {
			return TypeDomain, true
		}
	}
	return "", false
}
