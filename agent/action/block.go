package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"lachan/internal/action"
	"lachan/internal/atomicfile"
)

// blocked reads the addresses block-address has blocked.
func (e *Executor) blocked() ([]netip.Prefix, error) {
	b, err := os.ReadFile(filepath.Join(e.cfg.Dir, blockedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("blocked addresses %s: %w", blockedFile, err)
	}
	return out, nil
}

func (e *Executor) setBlocked(ps []netip.Prefix) error {
	b, _ := json.Marshal(uniquePrefixes(ps))
	if err := os.MkdirAll(e.cfg.Dir, 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(e.cfg.Dir, blockedFile), b, 0o600); err != nil {
		return err
	}
	return applyBlocks(ps)
}

func (e *Executor) block(_ context.Context, a action.Action, r *action.Result) error {
	p, err := parsePrefix(a.Args["address"])
	if err != nil {
		return fmt.Errorf("address %q: %w", a.Args["address"], err)
	}
	if allow, _, _, err := e.allowed(context.Background()); err == nil {
		for _, s := range allow {
			if p.Overlaps(s) {
				return fmt.Errorf("%s covers the server's address %s: blocking it would cut the agent off", p, s)
			}
		}
	}
	cur, err := e.blocked()
	if err != nil {
		return err
	}
	if err := e.setBlocked(append(cur, p)); err != nil {
		return fmt.Errorf("block %s: %w", p, err)
	}
	r.Evidence["blocked"] = p.String()
	r.Output = "đã chặn địa chỉ / address blocked: " + p.String()
	return nil
}

func (e *Executor) unblock(_ context.Context, a action.Action, r *action.Result) error {
	p, err := parsePrefix(a.Args["address"])
	if err != nil {
		return fmt.Errorf("address %q: %w", a.Args["address"], err)
	}
	cur, err := e.blocked()
	if err != nil {
		return err
	}
	if !slices.Contains(cur, p) {
		return fmt.Errorf("%s is not blocked by Lá Chắn", p)
	}
	if err := e.setBlocked(slices.DeleteFunc(cur, func(q netip.Prefix) bool { return q == p })); err != nil {
		return fmt.Errorf("unblock %s: %w", p, err)
	}
	r.Evidence["unblocked"] = p.String()
	r.Output = "đã bỏ chặn / address unblocked: " + p.String()
	return nil
}
