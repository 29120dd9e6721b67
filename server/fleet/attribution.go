package fleet

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"lachan/internal/wire"
)

// Networks gives each unit's declared address ranges (unit.Registry).
type Networks interface {
	Networks(ctx context.Context) (map[string][]netip.Prefix, error)
}

// WithNetworks makes the fleet tie claimed addresses to agents only
// inside their unit's declared networks; without it no claim is tied.
func (f *Fleet) WithNetworks(n Networks) *Fleet {
	f.nets = n
	return f
}

func (f *Fleet) networks(ctx context.Context) (map[string][]netip.Prefix, error) {
	if f.nets == nil {
		return nil, nil
	}
	return f.nets.Networks(ctx)
}

// CheckInFrom stores an agent's heartbeat, received from source. What
// the agent claims (host name, addresses, hardware ID) replaces its claim
// of before, but never what the server saw; renames, hardware changes and
// addresses that agents of other units also claim come back as changes.
func (f *Fleet) CheckInFrom(ctx context.Context, id string, req wire.CheckInRequest, source netip.Addr) (Agent, []Change, error) {
	now := f.now().UTC()
	var before Agent
	a, err := f.update(ctx, id, func(a *Agent) error {
		before = *a
		a.Host, a.Status, a.LastSeen = req.Host, req.Status, now
		a.Host.Labels = validLabels(a.Host.Labels)
		a.Sources = addSource(a.Sources, source, now)
		return nil
	})
	if err != nil {
		return Agent{}, nil, err
	}
	var changes []Change
	if before.Host.Name != a.Host.Name {
		changes = append(changes, newChange(ChangeRenamed, a, now, before.Host.Name, a.Host.Name))
	}
	if before.Host.HardwareID != "" && before.Host.HardwareID != a.Host.HardwareID {
		changes = append(changes, newChange(ChangeHardware, a, now, before.Host.HardwareID, a.Host.HardwareID))
	}
	if before.Host.HardwareID != a.Host.HardwareID {
		if err := f.indexHardware(ctx, a); err != nil {
			return a, changes, err
		}
	}
	if !slices.Equal(sortedCopy(before.Host.IPs), sortedCopy(a.Host.IPs)) {
		changes = append(changes, newChange(ChangeAddresses, a, now, strings.Join(before.Host.IPs, ","), strings.Join(a.Host.IPs, ",")))
		if err := f.indexAddresses(ctx, a, attributableIPs(a.Host.IPs)); err != nil {
			return a, changes, err
		}
		conflicts, err := f.conflicts(ctx, a, before.Host.IPs)
		if err != nil {
			return a, changes, err
		}
		changes = append(changes, conflicts...)
	}
	return a, changes, nil
}

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }

// conflicts reports the addresses a newly claims (not in old) that an
// agent of another unit also claims, by agent ID and then in the order
// that agent lists them; the address index names the claimants.
func (f *Fleet) conflicts(ctx context.Context, a Agent, old []string) ([]Change, error) {
	var fresh []netip.Addr
	for _, s := range a.Host.IPs {
		if ip, err := netip.ParseAddr(s); err == nil && !slices.Contains(old, s) && attributable(ip) {
			fresh = append(fresh, ip.Unmap())
		}
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	others := map[string]Agent{}
	for _, ip := range fresh {
		as, err := f.byAddressIndex(ctx, ip)
		if err != nil {
			return nil, err
		}
		for _, o := range as {
			if o.Unit != a.Unit && o.Revoked.IsZero() {
				others[o.ID] = o
			}
		}
	}
	var out []Change
	for _, id := range slices.Sorted(maps.Keys(others)) {
		o := others[id]
		for _, s := range o.Host.IPs {
			ip, err := netip.ParseAddr(s)
			if err == nil && slices.Contains(fresh, ip.Unmap()) {
				ch := newChange(ChangeConflict, a, f.now().UTC(), "", ip.Unmap().String())
				ch.Other = o.ID
				ch.Detail = "address " + ip.Unmap().String() + " is also claimed by agent " + o.ID + " (" + o.Host.Name + ") of unit " + o.Unit
				out = append(out, ch)
			}
		}
	}
	return out, nil
}

// attributable leaves out addresses that never identify one PC on a
// network: unspecified, multicast and link-local ones.
func attributable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() && !ip.IsLinkLocalUnicast()
}

// ByAddress maps addresses to the agents that network records of those
// addresses belong to. An address is tied to an agent when
//   - the server saw that agent's connections come from it and no other
//     agent's (an address several agents connect from is a NAT or a proxy,
//     and proves nothing), or else
//   - the agent claims it inside its unit's declared networks and no agent
//     of another unit claims it (among one unit's agents the most recent
//     claim wins, as DHCP hands addresses on).
//
// Revoked agents are left out.
func (f *Fleet) ByAddress(ctx context.Context) (map[netip.Addr]Agent, error) {
	all, err := f.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	nets, err := f.networks(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[netip.Addr][]Agent{}
	claimed := map[netip.Addr][]Agent{}
	for _, a := range all {
		if !a.Revoked.IsZero() {
			continue
		}
		for _, s := range a.Sources {
			if ip, err := netip.ParseAddr(s.IP); err == nil && attributable(ip) {
				seen[ip.Unmap()] = appendAgent(seen[ip.Unmap()], a)
			}
		}
		for _, s := range a.Host.IPs {
			ip, err := netip.ParseAddr(s)
			if err != nil || !attributable(ip) || !inside(nets[a.Unit], ip.Unmap()) {
				continue
			}
			claimed[ip.Unmap()] = appendAgent(claimed[ip.Unmap()], a)
		}
	}
	out := map[netip.Addr]Agent{}
	for ip, as := range claimed {
		if a, ok := oneUnitLatest(as); ok {
			out[ip] = a
		}
	}
	for ip, as := range seen {
		if len(as) == 1 {
			out[ip] = as[0]
		}
	}
	return out, nil
}

func appendAgent(as []Agent, a Agent) []Agent {
	if slices.ContainsFunc(as, func(x Agent) bool { return x.ID == a.ID }) {
		return as
	}
	return append(as, a)
}

// oneUnitLatest returns the most recently seen of agents that all belong
// to one unit; agents of two units make a conflict, tied to none.
func oneUnitLatest(as []Agent) (Agent, bool) {
	best := as[0]
	for _, a := range as[1:] {
		if a.Unit != best.Unit {
			return Agent{}, false
		}
		if a.LastSeen.After(best.LastSeen) {
			best = a
		}
	}
	return best, true
}

func inside(nets []netip.Prefix, ip netip.Addr) bool {
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
