package forward

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestOutboxHealth(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := &clock{t: t0}
	ad := &fakeAdapter{down: true}
	o := NewOutbox(st, ad, testDelivery, nil, clk.now)
	if ok, detail := o.Healthy("national"); !ok {
		t.Errorf("nothing to send yet: unhealthy (%s)", detail)
	}
	if _, err := o.Enqueue(ctx, entry("incident:a", 1)); err != nil {
		t.Fatal(err)
	}
	if ok, detail := o.Healthy("national"); ok || !strings.Contains(detail, "1 waiting") {
		t.Errorf("an entry waits, never tried: healthy=%v (%s)", ok, detail)
	}
	if _, err := o.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, detail := o.Healthy("national"); ok || !strings.Contains(detail, "upstream down") {
		t.Errorf("after a failed delivery: healthy=%v (%s)", ok, detail)
	}
	ad.mu.Lock()
	ad.down = false
	ad.mu.Unlock()
	clk.advance(time.Hour)
	if n, err := o.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("delivery after recovery: %d %v", n, err)
	}
	if ok, detail := o.Healthy("national"); !ok || !strings.Contains(detail, "0 waiting") {
		t.Errorf("after a delivery: healthy=%v (%s)", ok, detail)
	}
}
