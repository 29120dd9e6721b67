package action

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kinds of action an agent runs.
const (
	KindIsolate        = "isolate"
	KindRelease        = "release"
	KindKillProcess    = "kill-process"
	KindQuarantineFile = "quarantine-file"
	KindRestoreFile    = "restore-file"
	KindCollectFile    = "collect-file"
	KindBlockAddress   = "block-address"
	KindUnblockAddress = "unblock-address"
	KindDisableAccount = "disable-account"
	KindOsquery        = "osquery"
)

// Kinds lists every kind, for messages and the CLI.
func Kinds() []string {
	return []string{KindIsolate, KindRelease, KindKillProcess, KindQuarantineFile, KindRestoreFile, KindCollectFile,
		KindBlockAddress, KindUnblockAddress, KindDisableAccount, KindOsquery}
}

// args are the arguments each kind takes; required ones first.
var args = map[string]struct{ required, optional []string }{
	KindIsolate:        {},
	KindRelease:        {},
	KindKillProcess:    {required: []string{"pid"}, optional: []string{"start", "sha256"}},
	KindQuarantineFile: {required: []string{"path"}},
	KindRestoreFile:    {required: []string{"quarantine"}},
	KindCollectFile:    {required: []string{"path"}},
	KindBlockAddress:   {required: []string{"address"}},
	KindUnblockAddress: {required: []string{"address"}},
	KindDisableAccount: {required: []string{"user"}},
	KindOsquery:        {required: []string{"sql"}},
}

// Args returns the arguments kind takes, required then optional; ok is
// false for a kind that does not exist.
func Args(kind string) (required, optional []string, ok bool) {
	spec, ok := args[kind]
	return slices.Clone(spec.required), slices.Clone(spec.optional), ok
}

// Bounds of one action, for senders and receivers alike.
const (
	MaxPayload  = 64 << 10
	MaxArgBytes = 32 << 10
	// MaxLifetime bounds expiry minus issue time: the agent keeps a seen
	// action's ID and nonce this long, so the bound keeps that memory
	// small and a stolen action short-lived.
	MaxLifetime = 7 * 24 * time.Hour
	// ClockSkew is how far ahead of the agent's clock an action may say
	// it was issued.
	ClockSkew = 5 * time.Minute
)

// Action is one order to one agent.
type Action struct {
	ID      string            `json:"id"`
	AgentID string            `json:"agent_id"`
	Kind    string            `json:"kind"`
	Args    map[string]string `json:"args,omitempty"`
	Issued  time.Time         `json:"issued"`
	Expires time.Time         `json:"expires"`
	// Nonce is 16 random bytes (hex), unique per action.
	Nonce string `json:"nonce"`
	// Incident is the incident the action answers, if any (for the record).
	Incident string `json:"incident,omitempty"`
}

// Signed is an action as it travels: its exact bytes and their signature.
type Signed struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
}

// Reasons an agent refuses an action; each is reported back as is, in
// Vietnamese first, English second, for the people who read the result.
var (
	ErrForged     = errors.New("giả mạo, chữ ký không khớp khoá đã ghim / forged: signature does not verify against the pinned action key")
	ErrMalformed  = errors.New("sai định dạng / malformed action")
	ErrExpired    = errors.New("hết hạn / expired")
	ErrReplayed   = errors.New("phát lại, mã hoặc nonce đã gặp / replayed: action ID or nonce already seen")
	ErrMisdirect  = errors.New("gửi nhầm máy / misdirected: action is for another agent")
	ErrNotYet     = errors.New("thời điểm phát hành ở tương lai / issued in the future beyond the allowed clock skew")
	ErrNoKey      = errors.New("chưa ghim khoá hành động / no action key pinned")
	ErrUnknownArg = errors.New("unknown argument")
)

var (
	idRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	nonceRE  = regexp.MustCompile(`^[0-9a-f]{32}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	// userRE: a local account name that cannot pass for an option.
	userRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_. $-]{0,63}$`)
)

// NewNonce returns 16 random bytes in hex.
func NewNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Check validates an action's shape: ID, agent, kind, arguments, nonce
// and times, naming the field at fault.
func (a Action) Check() error {
	switch {
	case !idRE.MatchString(a.ID):
		return fmt.Errorf("%w: id %q", ErrMalformed, a.ID)
	case !idRE.MatchString(a.AgentID):
		return fmt.Errorf("%w: agent_id %q", ErrMalformed, a.AgentID)
	case !nonceRE.MatchString(a.Nonce):
		return fmt.Errorf("%w: nonce must be 32 hex digits", ErrMalformed)
	case a.Issued.IsZero() || a.Expires.IsZero() || !a.Expires.After(a.Issued):
		return fmt.Errorf("%w: issued and expires must be set, expires after issued", ErrMalformed)
	case a.Expires.Sub(a.Issued) > MaxLifetime:
		return fmt.Errorf("%w: lifetime %s above %s", ErrMalformed, a.Expires.Sub(a.Issued), MaxLifetime)
	}
	return CheckArgs(a.Kind, a.Args)
}

// CheckArgs validates a kind and its arguments.
func CheckArgs(kind string, got map[string]string) error {
	spec, ok := args[kind]
	if !ok {
		return fmt.Errorf("%w: kind %q is none of %v", ErrMalformed, kind, Kinds())
	}
	n := 0
	for k, v := range got {
		if !slices.Contains(spec.required, k) && !slices.Contains(spec.optional, k) {
			return fmt.Errorf("%w %q for %s (takes %v %v)", ErrUnknownArg, k, kind, spec.required, spec.optional)
		}
		n += len(k) + len(v)
	}
	if n > MaxArgBytes {
		return fmt.Errorf("%w: arguments above %d bytes", ErrMalformed, MaxArgBytes)
	}
	for _, k := range spec.required {
		if got[k] == "" {
			return fmt.Errorf("%w: %s needs argument %q", ErrMalformed, kind, k)
		}
	}
	return checkValues(kind, got)
}

// checkValues checks the arguments whose form the kind fixes.
func checkValues(kind string, got map[string]string) error {
	switch kind {
	case KindKillProcess:
		if pid, err := strconv.Atoi(got["pid"]); err != nil || pid <= 0 {
			return fmt.Errorf("%w: pid %q is not a process ID", ErrMalformed, got["pid"])
		}
		if got["start"] == "" && got["sha256"] == "" {
			return fmt.Errorf("%w: kill-process needs start (RFC 3339) or sha256 of the image, so that a reused PID is not killed", ErrMalformed)
		}
		if v := got["start"]; v != "" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				return fmt.Errorf("%w: start %q is not an RFC 3339 time", ErrMalformed, v)
			}
		}
		if v := got["sha256"]; v != "" && !sha256RE.MatchString(v) {
			return fmt.Errorf("%w: sha256 %q is not 64 hex digits", ErrMalformed, v)
		}
	case KindBlockAddress, KindUnblockAddress:
		if _, err := netip.ParseAddr(got["address"]); err != nil {
			if _, err := netip.ParsePrefix(got["address"]); err != nil {
				return fmt.Errorf("%w: address %q is not an IP address or network", ErrMalformed, got["address"])
			}
		}
	case KindDisableAccount:
		if !userRE.MatchString(got["user"]) {
			return fmt.Errorf("%w: user %q is not an account name", ErrMalformed, got["user"])
		}
	case KindQuarantineFile, KindCollectFile:
		if strings.ContainsRune(got["path"], 0) {
			return fmt.Errorf("%w: path holds a NUL byte", ErrMalformed)
		}
	case KindRestoreFile:
		if !idRE.MatchString(got["quarantine"]) {
			return fmt.Errorf("%w: quarantine %q is not an action ID", ErrMalformed, got["quarantine"])
		}
	}
	return nil
}

// Sign encodes and signs an action after checking it.
func Sign(a Action, key ed25519.PrivateKey) (Signed, error) {
	if err := a.Check(); err != nil {
		return Signed{}, err
	}
	payload, err := json.Marshal(a)
	if err != nil {
		return Signed{}, fmt.Errorf("encode action %s: %w", a.ID, err)
	}
	return Signed{Payload: payload, Signature: ed25519.Sign(key, payload)}, nil
}

// Verify checks the signature first, then decodes and checks the action
// and that it is for agentID and current at now. Replay is the caller's
// to check: it needs the agent's memory. On a refusal after the signature
// verified, the decoded action is returned beside the error so that the
// refusal can name it.
func Verify(s Signed, pub ed25519.PublicKey, agentID string, now time.Time) (Action, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Action{}, ErrNoKey
	}
	if len(s.Payload) > MaxPayload {
		return Action{}, fmt.Errorf("%w: payload of %d bytes above %d", ErrMalformed, len(s.Payload), MaxPayload)
	}
	if !ed25519.Verify(pub, s.Payload, s.Signature) {
		return Action{}, ErrForged
	}
	a, err := Decode(s.Payload)
	if err != nil {
		return Action{}, err
	}
	switch {
	case a.AgentID != agentID:
		return a, fmt.Errorf("%w (%s)", ErrMisdirect, a.AgentID)
	case !now.Before(a.Expires):
		return a, fmt.Errorf("%w at %s", ErrExpired, a.Expires.UTC().Format(time.RFC3339))
	case a.Issued.After(now.Add(ClockSkew)):
		return a, fmt.Errorf("%w (issued %s)", ErrNotYet, a.Issued.UTC().Format(time.RFC3339))
	}
	return a, nil
}

// Decode reads an action's payload strictly (unknown fields refused) and
// checks its shape.
func Decode(payload []byte) (Action, error) {
	if len(payload) > MaxPayload {
		return Action{}, fmt.Errorf("%w: payload of %d bytes above %d", ErrMalformed, len(payload), MaxPayload)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var a Action
	if err := dec.Decode(&a); err != nil {
		return Action{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Action{}, fmt.Errorf("%w: trailing data after the action", ErrMalformed)
	}
	if err := a.Check(); err != nil {
		return Action{}, err
	}
	return a, nil
}

// Claimed reads the ID and agent a payload claims without trusting it, so
// that a refusal of a forged or malformed action can still name what it
// claimed to be. It never fails: unknown parts are empty.
func Claimed(payload []byte) (id, agentID string) {
	var c struct {
		ID      string `json:"id"`
		AgentID string `json:"agent_id"`
	}
	if len(payload) <= MaxPayload && json.Unmarshal(payload, &c) == nil && idRE.MatchString(c.ID) {
		id = c.ID
		if idRE.MatchString(c.AgentID) {
			agentID = c.AgentID
		}
	}
	return id, agentID
}
