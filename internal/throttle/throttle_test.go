package throttle

import (
	"strconv"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	b := New(3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := b.Take("a", 1); !ok {
			t.Fatalf("take %d of a burst of 3 refused", i)
		}
	}
	ok, wait := b.Take("a", 1)
	if ok || wait != 20*time.Second {
		t.Fatalf("fourth take: %v, wait %s; want refused, 20s", ok, wait)
	}
	if ok, _ := b.Take("b", 1); !ok {
		t.Fatal("another key shares the bucket")
	}
	now = now.Add(20 * time.Second)
	if w := b.Wait("a", 1); w != 0 {
		t.Fatalf("after the wait: %s more", w)
	}
	b.Spend("a", 5)
	if w := b.Wait("a", 1); w != 20*time.Second {
		t.Fatalf("spent beyond empty: wait %s, want 20s", w)
	}
	now = now.Add(time.Hour)
	if w := b.Wait("a", 3); w != 0 {
		t.Fatalf("a bucket refills only up to its burst, then waits %s", w)
	}
}

func TestBucketsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	b := New(1, time.Hour, func() time.Time { return now })
	for i := range MaxKeys + 10 {
		b.Take(strconv.Itoa(i), 1)
	}
	if len(b.m) > MaxKeys {
		t.Fatalf("%d buckets kept, at most %d", len(b.m), MaxKeys)
	}
}
