package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"lachan/internal/wire"
)

// TestEnrollmentCapExactUnderConcurrency: enrollments through one secret
// arriving at once enroll exactly api.enroll.max_agents_per_secret
// agents; the rest are refused as over the cap.
func TestEnrollmentCapExactUnderConcurrency(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Enroll.MaxAgentsPerSecret = 5
	e := newEnvWith(t, cfg)
	const tries = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, we, _, _ := e.tryEnroll(wire.EnrollRequest{Secret: secret, Host: wire.Host{Name: fmt.Sprintf("pc-%d", i)}})
			if code == http.StatusUnauthorized && !strings.Contains(we.Error, "as many agents as it may") {
				t.Errorf("refusal: %+v", we)
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusOK] != 5 || codes[http.StatusUnauthorized] != tries-5 {
		t.Fatalf("answers %v; want 5 × 200 and %d × 401", codes, tries-5)
	}
	agents, err := e.fleet.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) != 5 {
		t.Fatalf("%d agents recorded, want 5", len(agents))
	}
}
