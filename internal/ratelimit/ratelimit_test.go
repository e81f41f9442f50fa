package ratelimit

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(3, time.Minute)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if b, _ := l.Blocked("ip:1"); b {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail("ip:1")
	}
	if b, left := l.Blocked("ip:1"); !b || left != time.Minute {
		t.Fatalf("after 3 failures: blocked %v for %v", b, left)
	}
	if b, _ := l.Blocked("ip:2"); b {
		t.Fatal("another key is blocked too")
	}
	now = now.Add(time.Minute)
	if b, _ := l.Blocked("ip:1"); b {
		t.Fatal("still blocked after the window")
	}
	l.Fail("user:x")
	l.Reset("user:x")
	if len(l.hits) != 0 {
		t.Fatalf("state left: %v", l.hits)
	}
}
