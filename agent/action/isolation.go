package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"lachan/internal/action"
	"lachan/internal/atomicfile"
)

// Isolation is what an isolated PC may still reach, kept on disk.
type Isolation struct {
	Since  time.Time `json:"since"`
	Action string    `json:"action"`
	// Allow are the server's (and proxy's) addresses and actions.allow.
	Allow []netip.Prefix `json:"allow"`
	// DNS are the DNS servers reachable on port 53.
	DNS []netip.Addr `json:"dns,omitempty"`
}

// allowed works out what isolation leaves open: the addresses the
// server's and the proxy's names resolve to now, and the configured ones.
func (e *Executor) allowed(ctx context.Context) ([]netip.Prefix, []netip.Addr, map[string][]netip.Addr, error) {
	var out []netip.Prefix
	names := map[string][]netip.Addr{}
	for _, raw := range []string{e.cfg.Server, e.cfg.Proxy} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			return nil, nil, nil, fmt.Errorf("address to keep open %q: not a URL with a host", raw)
		}
		addrs, err := lookup(ctx, u.Hostname())
		if err != nil {
			// Isolated already, or DNS down: the addresses last resolved.
			if addrs = readNames(e.cfg.Dir)[u.Hostname()]; len(addrs) == 0 {
				return nil, nil, nil, err
			}
		}
		names[u.Hostname()] = addrs
		for _, a := range addrs {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	for _, s := range e.cfg.Allow {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("actions.allow %q: %w", s, err)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, nil, nil, errors.New("no server address to keep reachable: isolating would cut the agent off for good")
	}
	var dns []netip.Addr
	for _, s := range e.cfg.DNS {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("actions.dns %q: %w", s, err)
		}
		dns = append(dns, a.Unmap())
	}
	if err := saveNames(e.cfg.Dir, names); err != nil {
		return nil, nil, nil, err
	}
	return uniquePrefixes(out), dns, names, nil
}

func lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s (to keep it reachable): %w", host, err)
	}
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.Unmap())
	}
	return out, nil
}

func uniquePrefixes(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(ps)
}

func (e *Executor) isolate(ctx context.Context, a action.Action, r *action.Result) error {
	allow, dns, _, err := e.allowed(ctx)
	if err != nil {
		return err
	}
	iso := Isolation{Since: e.now().UTC(), Action: a.ID, Allow: allow, DNS: dns}
	// The state goes to disk first: a crash between the two leaves a PC
	// that isolates itself at the next start, never one isolated without
	// a record of it.
	if err := e.saveIsolation(iso); err != nil {
		return err
	}
	desc, err := applyIsolation(iso)
	if err != nil {
		_ = os.Remove(filepath.Join(e.cfg.Dir, isolationFile))
		return fmt.Errorf("isolate: %w", err)
	}
	r.Evidence["allow"] = joinPrefixes(allow)
	r.Evidence["dns"] = joinAddrs(dns)
	r.Evidence["firewall"] = desc
	r.Output = "đã cách ly máy; chỉ còn tới được máy chủ / PC isolated; only the server stays reachable"
	return nil
}

func (e *Executor) release(_ context.Context, a action.Action, r *action.Result) error {
	if err := removeIsolation(); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	iso, isolated, _ := e.Isolated()
	if err := os.Remove(filepath.Join(e.cfg.Dir, isolationFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release: %w", err)
	}
	if err := atomicfile.SyncDir(e.cfg.Dir); err != nil {
		return err
	}
	if isolated {
		r.Evidence["isolated_since"] = iso.Since.Format(time.RFC3339)
		r.Evidence["isolated_by"] = iso.Action
	}
	r.Output = "đã bỏ cách ly / isolation released"
	return nil
}

func (e *Executor) saveIsolation(iso Isolation) error {
	b, _ := json.Marshal(iso)
	if err := os.MkdirAll(e.cfg.Dir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(e.cfg.Dir, isolationFile), b, 0o600)
}

// Isolated reads the isolation kept on disk.
func (e *Executor) Isolated() (Isolation, bool, error) { return ReadIsolation(e.cfg.Dir) }

// Restore applies again, at agent start, the isolation and the blocks
// kept on disk: a PC restarted while isolated stays isolated. A damaged
// isolation state still isolates, keeping only the addresses the server
// resolves to now.
func (e *Executor) Restore(ctx context.Context) error {
	var errs []error
	iso, isolated, err := e.Isolated()
	if isolated {
		if err != nil {
			e.log.Error("isolation state damaged; isolating with the server's current addresses", "err", err)
			iso = Isolation{Since: e.now().UTC(), Action: "restore"}
		}
		if allow, dns, _, err := e.allowed(ctx); err == nil {
			iso.Allow, iso.DNS = uniquePrefixes(append(iso.Allow, allow...)), dns
		}
		if _, err := applyIsolation(iso); err != nil {
			errs = append(errs, fmt.Errorf("isolation not applied again: %w", err))
		} else {
			e.log.Warn("PC is isolated; isolation applied again", "since", iso.Since, "action", iso.Action)
		}
	} else if err != nil {
		errs = append(errs, err)
	}
	blocked, err := e.blocked()
	if err == nil && len(blocked) > 0 {
		err = applyBlocks(blocked)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("blocked addresses not applied again: %w", err))
	}
	return errors.Join(errs...)
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}
