package mask

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// Config is the masking configuration.
type Config struct {
	// Policy is a policy file; empty uses the built-in policy.
	Policy string `mapstructure:"policy"`
	// Key is the pseudonym key. Empty: the server keeps a random key in
	// its data directory (mask.key). Changing it changes every token.
	Key string `mapstructure:"key" secret:"true"`
}

// DefaultConfig uses the built-in policy and a key kept in the data
// directory.
func DefaultConfig() Config { return Config{} }

// Validate checks the key's length.
func (c Config) Validate() error {
	if c.Key != "" && len(c.Key) < 16 {
		return errors.New("mask.key: at least 16 characters")
	}
	return nil
}

// TokenHexLen is how many hex digits of the HMAC a token keeps (64 bits).
const TokenHexLen = 16

// Entry is one line of the re-identification table.
type Entry struct {
	Token string `json:"token"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Table keeps the tokens handed out, so that a token can be re-identified.
type Table interface {
	Remember(ctx context.Context, entries []Entry) error
	Lookup(ctx context.Context, token string) (Entry, error)
}

// Masker applies a policy with a key. It is safe for concurrent use.
type Masker struct {
	p     *Policy
	key   []byte
	table Table

	mu   sync.Mutex
	seen map[string]bool // tokens already in the table
}

// New returns a masker. The key must be at least 16 bytes.
func New(p *Policy, key []byte, t Table) (*Masker, error) {
	if len(key) < 16 {
		return nil, errors.New("mask: key shorter than 16 bytes")
	}
	if p == nil {
		p = DefaultPolicy()
	}
	return &Masker{p: p, key: key, table: t, seen: map[string]bool{}}, nil
}

// Token returns the pseudonym of a value of a type (normalised first, so
// "+84 912 345 678" and "0912345678" give one token).
func (m *Masker) Token(typ, value string) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(typ))
	h.Write([]byte{':'})
	h.Write([]byte(normalize(typ, value)))
	return typ + "-" + hex.EncodeToString(h.Sum(nil))[:TokenHexLen]
}

// IsToken reports whether s has the shape of a token.
func IsToken(s string) bool {
	typ, hx, ok := strings.Cut(s, "-")
	if !ok || len(hx) != TokenHexLen || !typePattern.MatchString(typ) {
		return false
	}
	_, err := hex.DecodeString(hx)
	return err == nil
}

func normalize(typ, v string) string {
	v = strings.TrimSpace(v)
	switch typ {
	case "phone", "cccd":
		var b strings.Builder
		for _, r := range v {
			if r >= '0' && r <= '9' {
				b.WriteRune(r)
			}
		}
		d := b.String()
		if strings.HasPrefix(v, "+84") {
			d = "0" + d[2:]
		} else if strings.HasPrefix(d, "0084") {
			d = "0" + d[4:]
		}
		return d
	case "ip":
		if a, err := netip.ParseAddr(v); err == nil {
			return a.Unmap().String()
		}
		return v
	}
	return strings.Join(strings.Fields(strings.ToLower(v)), " ")
}

// Session masks the values of one outgoing object and remembers the
// tokens it handed out until Commit.
type Session struct {
	m       *Masker
	pending map[string]Entry
}

// Session starts masking one object.
func (m *Masker) Session() *Session { return &Session{m: m, pending: map[string]Entry{}} }

func (s *Session) token(typ, value string) string {
	tok := s.m.Token(typ, value)
	s.pending[tok] = Entry{Token: tok, Type: typ, Value: value}
	return tok
}

// Commit writes the tokens this session handed out to the table; the
// object must not leave the server unless Commit succeeds.
func (s *Session) Commit(ctx context.Context) error {
	if s.m.table == nil {
		return nil
	}
	s.m.mu.Lock()
	var fresh []Entry
	for tok, e := range s.pending {
		if !s.m.seen[tok] {
			fresh = append(fresh, e)
		}
	}
	s.m.mu.Unlock()
	if len(fresh) == 0 {
		return nil
	}
	sort.Slice(fresh, func(i, j int) bool { return fresh[i].Token < fresh[j].Token })
	if err := s.m.table.Remember(ctx, fresh); err != nil {
		return fmt.Errorf("mask: remember tokens: %w", err)
	}
	s.m.mu.Lock()
	for _, e := range fresh {
		s.m.seen[e.Token] = true
	}
	s.m.mu.Unlock()
	return nil
}

// Field masks the value of a named field: wholly when the policy names the
// field, else the strings inside it by pattern. Lists and maps are masked
// element by element; other values are returned as they are.
func (s *Session) Field(name string, v any) any {
	if typ := s.m.p.fieldType(name); typ != "" {
		return s.whole(typ, v)
	}
	return s.Value(v)
}

func (s *Session) whole(typ string, v any) any {
	switch x := v.(type) {
	case string:
		if x == "" {
			return x
		}
		return s.token(typ, x)
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = s.whole(typ, el)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = s.whole(typ, el)
		}
		return out
	}
	return s.Value(v)
}

// Value masks by pattern the strings inside v.
func (s *Session) Value(v any) any {
	switch x := v.(type) {
	case string:
		return s.String(x)
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = s.Value(el)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = s.String(el)
		}
		return out
	case map[string]any:
		return s.Fields(x)
	}
	return v
}

// Fields returns a masked copy of a field map (keys are field names).
func (s *Session) Fields(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[k] = s.Field(k, v)
	}
	return out
}

// segment is a piece of text, already a token or still to be searched.
type segment struct {
	text   string
	masked bool
}

// String masks what the policy's patterns find inside s. A token is never
// searched again, so one pattern cannot mangle another's token.
func (s *Session) String(str string) string {
	if str == "" {
		return str
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(str)); err == nil {
		if s.m.p.internal(a) {
			return s.token("ip", a.String())
		}
		return str
	}
	segs := protectTokens(str)
	for _, c := range s.m.p.patterns {
		segs = s.apply(segs, c, nil)
	}
	segs = s.apply(segs, compiled{typ: "ip", re: ipPattern, group: 1}, s.internalIP)
	var b strings.Builder
	for _, sg := range segs {
		b.WriteString(sg.text)
	}
	return b.String()
}

// tokenInText finds token-shaped words, which are never searched again so
// that masking masked text changes nothing.
var tokenInText = regexp.MustCompile(`([a-z][a-z0-9]{0,15}-[0-9a-f]{16})`)

func protectTokens(str string) []segment {
	var out []segment
	rest := str
	for rest != "" {
		loc := tokenInText.FindStringSubmatchIndex(rest)
		if loc == nil {
			break
		}
		if loc[2] > 0 {
			out = append(out, segment{text: rest[:loc[2]]})
		}
		out = append(out, segment{text: rest[loc[2]:loc[3]], masked: true})
		rest = rest[loc[3]:]
	}
	if rest != "" {
		out = append(out, segment{text: rest})
	}
	return out
}

func (s *Session) internalIP(v string) bool {
	a, err := netip.ParseAddr(v)
	return err == nil && s.m.p.internal(a)
}

// apply splits every unmasked segment at c's matches; keep, when given,
// decides whether a found value is masked.
func (s *Session) apply(segs []segment, c compiled, keep func(string) bool) []segment {
	var out []segment
	for _, sg := range segs {
		if sg.masked {
			out = append(out, sg)
			continue
		}
		rest := sg.text
		for rest != "" {
			loc := c.re.FindStringSubmatchIndex(rest)
			if loc == nil || loc[2*c.group] < 0 {
				break
			}
			start, end := loc[2*c.group], loc[2*c.group+1]
			if end <= start {
				break
			}
			v := rest[start:end]
			if keep != nil && !keep(v) || !hasLetterOrDigit(v) {
				out = append(out, segment{text: rest[:end]})
				rest = rest[end:]
				continue
			}
			if start > 0 {
				out = append(out, segment{text: rest[:start]})
			}
			out = append(out, segment{text: s.token(c.typ, v), masked: true})
			rest = rest[end:]
		}
		if rest != "" {
			out = append(out, segment{text: rest})
		}
	}
	return out
}

func hasLetterOrDigit(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}
