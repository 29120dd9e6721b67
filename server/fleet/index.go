package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"lachan/server/store"
)

// Entity kinds the fleet keeps beside the agents' records, so that an
// enrollment reads a few small entities instead of every agent:
//   - KindEnrollCount: per secret ("secret:<SecretID>"), how many agent
//     records name it as their Enrollment;
//   - KindHardwareIndex: per unit and hardware ID, the agent that last
//     enrolled or checked in with it;
//   - KindAddressIndex: per address, the agents that claimed it.
//
// The indexes may name more than is true (an agent that moved on, one
// removed), never less: every reader checks the agent's record. The
// counter is changed before the record it counts, under a lock per
// secret and the store's version check, and given back if the record
// cannot be written.
const (
	KindEnrollCount   = "enroll-count"
	KindHardwareIndex = "agent-hardware"
	KindAddressIndex  = "agent-address"
)

// indexState is the state entity (store.KindState) that records that the
// indexes were built from the agents' records.
const indexState = "fleet-index-v1"

// ErrViaExhausted: the secret enrolled as many agents as it may.
var ErrViaExhausted = errors.New("enrollment limit reached")

// counted reports whether agents that joined through via are counted.
func counted(via string) bool { return strings.HasPrefix(via, "secret:") }

// lockVia serialises this process's changes to one secret's counter.
func (f *Fleet) lockVia(via string) func() {
	m, _ := f.viaLocks.LoadOrStore(via, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// adjustVia adds delta to via's counter; with limit > 0 an increment that
// would pass limit is refused with ErrViaExhausted. A counter not yet
// kept is started from the agents' records (once per secret, before the
// change it accounts for is made).
func (f *Fleet) adjustVia(ctx context.Context, via string, delta, limit int) (int, error) {
	if !counted(via) || delta == 0 {
		return 0, nil
	}
	defer f.lockVia(via)()
	var n int
	err := store.RetryConflicts(ctx, func() error {
		doc, ver, err := f.st.GetEntity(ctx, KindEnrollCount, via)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if n, err = f.countVia(ctx, via); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("enrollment count %s: %w", via, err)
		default:
			if n, err = strconv.Atoi(string(doc)); err != nil {
				return fmt.Errorf("enrollment count %s: stored document: %w", via, err)
			}
		}
		if delta > 0 && limit > 0 && n+delta > limit {
			return fmt.Errorf("%w (%d agents)", ErrViaExhausted, n)
		}
		n = max(n+delta, 0)
		if _, err := f.st.PutEntity(ctx, KindEnrollCount, via, []byte(strconv.Itoa(n)), ver); err != nil {
			return fmt.Errorf("enrollment count %s: %w", via, err)
		}
		return nil
	})
	return n, err
}

// countVia counts the agent records that joined through via (the slow
// way, to start a counter).
func (f *Fleet) countVia(ctx context.Context, via string) (int, error) {
	all, err := f.List(ctx, nil)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range all {
		if a.Enrollment == via {
			n++
		}
	}
	return n, nil
}

// CountEnrolledVia is how many agent records name via as how they joined:
// the secret's counter, started from the records if it is not kept yet.
func (f *Fleet) CountEnrolledVia(ctx context.Context, via string) (int, error) {
	if !counted(via) {
		return f.countVia(ctx, via)
	}
	doc, _, err := f.st.GetEntity(ctx, KindEnrollCount, via)
	if errors.Is(err, store.ErrNotFound) {
		return f.countVia(ctx, via)
	}
	if err != nil {
		return 0, fmt.Errorf("enrollment count %s: %w", via, err)
	}
	return strconv.Atoi(string(doc))
}

// hardwareKey is the index entity's ID of a hardware ID in a unit.
func hardwareKey(unit, hw string) string {
	h := sha256.Sum256([]byte(unit + "\x00" + hw))
	return hex.EncodeToString(h[:16])
}

// indexHardware records that agent a reports its hardware ID.
func (f *Fleet) indexHardware(ctx context.Context, a Agent) error {
	if a.Host.HardwareID == "" {
		return nil
	}
	key := hardwareKey(a.Unit, a.Host.HardwareID)
	return store.RetryConflicts(ctx, func() error {
		doc, ver, err := f.st.GetEntity(ctx, KindHardwareIndex, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if string(doc) == a.ID {
			return nil
		}
		_, err = f.st.PutEntity(ctx, KindHardwareIndex, key, []byte(a.ID), ver)
		return err
	})
}

// byHardware returns the agent of unit that reports hw and is not
// revoked, if the index names one that still does.
func (f *Fleet) byHardware(ctx context.Context, unit, hw string) (Agent, bool, error) {
	doc, _, err := f.st.GetEntity(ctx, KindHardwareIndex, hardwareKey(unit, hw))
	if errors.Is(err, store.ErrNotFound) {
		return Agent{}, false, nil
	}
	if err != nil {
		return Agent{}, false, err
	}
	a, _, err := f.Get(ctx, string(doc))
	if errors.Is(err, store.ErrNotFound) {
		return Agent{}, false, nil
	}
	if err != nil {
		return Agent{}, false, err
	}
	ok := a.Unit == unit && a.Host.HardwareID == hw && a.Revoked.IsZero()
	return a, ok, nil
}

// claims is the address index's document.
type claims struct {
	Agents []string `json:"agents"`
}

// indexAddresses records that agent a claims the attributable addresses
// among ips, dropping from each address's entry the agents that no
// longer claim it.
func (f *Fleet) indexAddresses(ctx context.Context, a Agent, ips []netip.Addr) error {
	for _, ip := range ips {
		key := ip.String()
		err := store.RetryConflicts(ctx, func() error {
			doc, ver, err := f.st.GetEntity(ctx, KindAddressIndex, key)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			var c claims
			if len(doc) > 0 {
				if err := json.Unmarshal(doc, &c); err != nil {
					return fmt.Errorf("address index %s: %w", key, err)
				}
			}
			if slices.Contains(c.Agents, a.ID) {
				return nil
			}
			live, err := f.claimants(ctx, ip, c.Agents)
			if err != nil {
				return err
			}
			c.Agents = append(idsOf(live), a.ID)
			b, _ := json.Marshal(c)
			_, err = f.st.PutEntity(ctx, KindAddressIndex, key, b, ver)
			return err
		})
		if err != nil {
			return fmt.Errorf("address index %s: %w", key, err)
		}
	}
	return nil
}

// claimants reads the agents ids names and keeps those that still claim
// ip.
func (f *Fleet) claimants(ctx context.Context, ip netip.Addr, ids []string) ([]Agent, error) {
	var out []Agent
	for _, id := range ids {
		a, _, err := f.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(a.Host.IPs, func(s string) bool {
			p, err := netip.ParseAddr(s)
			return err == nil && p.Unmap() == ip
		}) {
			out = append(out, a)
		}
	}
	return out, nil
}

// byAddressIndex returns the agents that claim ip, as the index names
// them and their records confirm.
func (f *Fleet) byAddressIndex(ctx context.Context, ip netip.Addr) ([]Agent, error) {
	doc, _, err := f.st.GetEntity(ctx, KindAddressIndex, ip.String())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c claims
	if err := json.Unmarshal(doc, &c); err != nil {
		return nil, fmt.Errorf("address index %s: %w", ip, err)
	}
	return f.claimants(ctx, ip, c.Agents)
}

func idsOf(as []Agent) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// attributableIPs parses the attributable addresses among ips.
func attributableIPs(ips []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil && attributable(ip.Unmap()) && !slices.Contains(out, ip.Unmap()) {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// EnsureIndex builds the counters and indexes from the agents' records
// if this store has not had them built yet (a store from before them);
// later changes keep them. Enrollment calls it first.
func (f *Fleet) EnsureIndex(ctx context.Context) error {
	f.indexMu.Lock()
	defer f.indexMu.Unlock()
	if f.indexed {
		return nil
	}
	_, _, err := f.st.GetEntity(ctx, store.KindState, indexState)
	if err == nil {
		f.indexed = true
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("fleet index state: %w", err)
	}
	all, err := f.List(ctx, nil)
	if err != nil {
		return err
	}
	for _, a := range all {
		if err := f.indexHardware(ctx, a); err != nil {
			return fmt.Errorf("fleet index: %w", err)
		}
		if err := f.indexAddresses(ctx, a, attributableIPs(a.Host.IPs)); err != nil {
			return fmt.Errorf("fleet index: %w", err)
		}
	}
	if _, err := f.st.PutEntity(ctx, store.KindState, indexState, []byte(`{"built":true}`), 0); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("fleet index state: %w", err)
	}
	f.indexed = true
	return nil
}
