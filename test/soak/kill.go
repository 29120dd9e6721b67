package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"lachan/test/harness"
)

// What a kill hits.
const (
	killWard           = "ward"
	killWardForwarding = "ward while forwarding"
	killAgent          = "agent"
	killCity           = "city"
)

var killKinds = []string{killWard, killWardForwarding, killAgent, killCity}

// queuedLine is what the ward logs when it has queued an incident
// revision for the city; the delivery follows at once.
const queuedLine = "incident queued for upstream"

// killLoop kills once in each of o.kills equal slots of the duration, at
// a random moment of the slot (at once when restarts ran late), and
// restarts what it killed. A process found dead that it did not kill is a
// crash: recorded and restarted.
func (s *soaker) killLoop(ctx context.Context) error {
	slot := s.o.duration / time.Duration(s.o.kills)
	for n := range s.o.kills {
		at := s.start.Add(time.Duration(n)*slot + time.Duration(s.rnd.Int64N(int64(slot))))
		if err := sleep(ctx, time.Until(at)); err != nil {
			return err
		}
		if err := s.ensureUp(ctx); err != nil {
			return err
		}
		kind := killKinds[s.rnd.IntN(len(killKinds))]
		if err := s.kill(ctx, kind); err != nil {
			return fmt.Errorf("kill %d (%s): %w", n+1, kind, err)
		}
		s.kills[kind]++
		if (n+1)%10 == 0 || n+1 == s.o.kills {
			files, _ := s.load.counts()
			fmt.Printf("soak: %s: %d kills (ward %d, ward while forwarding %d with %d caught queueing, agent %d, city %d), %d files, incidents %s\n",
				elapsed(s.start), n+1, s.kills[killWard], s.kills[killWardForwarding], s.caught, s.kills[killAgent], s.kills[killCity], files, s.incidentCounts(ctx))
		}
	}
	return nil
}

// incidentCounts says how many incidents the ward and the city hold now,
// for the progress line.
func (s *soaker) incidentCounts(ctx context.Context) string {
	count := func(srv *harness.Server, addr string) string {
		c, err := operator(srv, addr)
		if err != nil {
			return "?"
		}
		incs, err := incidents(ctx, c)
		if err != nil {
			return "?"
		}
		return fmt.Sprint(len(incs))
	}
	return fmt.Sprintf("ward %s, city %s", count(s.tt.Ward, s.tt.WardAddr), count(s.tt.City, s.tt.CityAddr))
}

func (s *soaker) kill(ctx context.Context, kind string) error {
	switch kind {
	case killWard:
		s.tt.Ward.Kill()
		return s.restartWard(ctx)
	case killWardForwarding:
		if queued(ctx, s.tt.Ward.Log, 8*time.Second) {
			s.caught++
			// Into the delivery: the bundle on its way to the city, or
			// its receipt being written.
			sleep(ctx, time.Duration(s.rnd.Int64N(int64(30*time.Millisecond))))
		}
		s.tt.Ward.Kill()
		return s.restartWard(ctx)
	case killAgent:
		i := s.rnd.IntN(len(s.agents))
		s.agents[i].Kill()
		s.agents[i] = nil
		if err := sleep(ctx, time.Duration(s.rnd.Int64N(int64(2*time.Second)))); err != nil {
			return err
		}
		return s.restartAgent(i)
	case killCity:
		s.tt.City.Kill()
		// Down for a while, so that the ward's deliveries fail and retry.
		if err := sleep(ctx, time.Duration(s.rnd.Int64N(int64(3*time.Second)))); err != nil {
			return err
		}
		return s.restartCity(ctx)
	}
	return fmt.Errorf("unknown kill %q", kind)
}

func (s *soaker) restartWard(ctx context.Context) error {
	w, err := harness.StartServer(ctx, s.tt.Bin, s.tt.WardDir)
	if err != nil {
		return fmt.Errorf("restart ward: %w", err)
	}
	s.tt.Ward = w
	return nil
}

func (s *soaker) restartCity(ctx context.Context) error {
	c, err := harness.StartServer(ctx, s.tt.Bin, s.tt.CityDir)
	if err != nil {
		return fmt.Errorf("restart city: %w", err)
	}
	s.tt.City = c
	return nil
}

func (s *soaker) restartAgent(i int) error {
	a, err := harness.StartAgent(s.agentBin, s.agentDirs[i], s.tt.Ward, s.opts[i])
	if err != nil {
		return fmt.Errorf("restart agent %d: %w", i, err)
	}
	s.agents[i] = a
	return nil
}

// ensureUp restarts any process that ended without being killed, and
// records it as a crash.
func (s *soaker) ensureUp(ctx context.Context) error {
	crashed := func(name string, p *harness.Proc) bool {
		done, err := p.Exited()
		if done {
			s.crashes = append(s.crashes, fmt.Sprintf("%s at %s: %v", name, elapsed(s.start), err))
			fmt.Printf("soak: %s: %s ended by itself (%v); log:\n%s\n", elapsed(s.start), name, err, p.Tail())
		}
		return done
	}
	if crashed("ward", s.tt.Ward.Proc) {
		if err := s.restartWard(ctx); err != nil {
			return err
		}
	}
	if crashed("city", s.tt.City.Proc) {
		if err := s.restartCity(ctx); err != nil {
			return err
		}
	}
	for i, a := range s.agents {
		if a == nil || crashed(fmt.Sprintf("agent %d", i), a.Proc) {
			if err := s.restartAgent(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// queued waits up to timeout for the log at path to gain a line saying an
// incident was queued for upstream, and reports whether it did.
func queued(ctx context.Context, path string, timeout time.Duration) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return false
	}
	needle := []byte(queuedLine)
	var carry []byte
	buf := make([]byte, 64<<10)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n, _ := f.Read(buf)
		if n == 0 {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		chunk := append(carry, buf[:n]...)
		if bytes.Contains(chunk, needle) {
			return true
		}
		carry = append([]byte(nil), chunk[max(0, len(chunk)-len(needle)):]...)
	}
	return false
}
