package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"lachan/server/store"
)

// minuteCounts keeps the events counted in the last whole minute, per
// caller scope (the units the API scopes a count to), until that minute
// is no longer the last: the count of a minute that has ended does not
// change but for events arriving late, and counting it reads every event
// of the minute (the embedded store counts by reading them), which on a
// busy city is most of the overview's time.
type minuteCounts struct {
	mu sync.Mutex
	m  map[string]minuteCount
}

type minuteCount struct {
	minute time.Time
	n      int64
}

// scopeKey names a caller scope: "*" for every unit (nil), else the
// sorted units.
func scopeKey(units []string) string {
	if units == nil {
		return "*"
	}
	u := slices.Clone(units)
	slices.Sort(u)
	return "units:" + strings.Join(u, ",")
}

// eventsPerMinute counts the events of the last whole minute the person
// may read, through the API's aggregate (which scopes it by their
// units), once per minute and scope. ok is false when the API refused.
func (c *Console) eventsPerMinute(q req, now time.Time) (n int64, ok bool) {
	minute := now.Truncate(time.Minute)
	key := scopeKey(q.me.Units)
	c.minutes.mu.Lock()
	got, hit := c.minutes.m[key]
	c.minutes.mu.Unlock()
	if hit && got.minute.Equal(minute) {
		return got.n, true
	}
	var agg struct {
		Aggregations []store.AggResult `json:"aggregations"`
	}
	span := url.Values{"from": {minute.Add(-time.Minute).Format(time.RFC3339)}, "to": {minute.Format(time.RFC3339)}, "agg": {"date_histogram:1m"}}
	if c.call(q.r, q.secret, http.MethodGet, "/api/v1/aggregate", span, nil, &agg) != nil || len(agg.Aggregations) != 1 {
		return 0, false
	}
	for _, b := range agg.Aggregations[0].Buckets {
		n += b.Count
	}
	c.minutes.mu.Lock()
	if c.minutes.m == nil {
		c.minutes.m = map[string]minuteCount{}
	}
	for k, v := range c.minutes.m {
		if !v.minute.Equal(minute) {
			delete(c.minutes.m, k) // only the last minute is ever asked for
		}
	}
	c.minutes.m[key] = minuteCount{minute: minute, n: n}
	c.minutes.mu.Unlock()
	return n, true
}
