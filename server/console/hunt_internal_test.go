package console

import (
	"testing"
	"time"

	"lachan/server/store"
)

func TestBars(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 30, 20, 0, time.UTC)
	found := []store.Bucket{{Time: now.Add(-30 * time.Minute).Truncate(time.Minute), Count: 4}, {Time: now.Truncate(time.Minute), Count: 2},
		{Time: now.Add(-5 * time.Hour), Count: 99}} // outside the range: left out
	bs, max := bars(found, time.Hour, time.Minute, now)
	if len(bs) != 61 || max != 4 {
		t.Fatalf("%d bars, max %d; want 61, 4", len(bs), max)
	}
	if bs[30].Count != 4 || bs[30].H != barHeight || bs[60].Count != 2 || bs[60].H != barHeight/2 || bs[0].H != 0 {
		t.Errorf("bars %+v %+v %+v", bs[0], bs[30], bs[60])
	}
}

func TestPivot(t *testing.T) {
	cases := []struct{ q, field, value, want string }{
		{"", "host.name", "pc-1", `host.name:"pc-1"`},
		{"a:b or c:d", "user.name", `x"y\z`, `(a:b or c:d) and user.name:"x\"y\\z"`},
	}
	for _, c := range cases {
		if got := pivot(c.q, c.field, c.value); got != c.want {
			t.Errorf("pivot(%q, %q, %q) = %q, want %q", c.q, c.field, c.value, got, c.want)
		}
	}
}
