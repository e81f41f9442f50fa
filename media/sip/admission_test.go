package sip

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// A listener other machines can reach refuses to start without trusted peers; a loopback one
// trusts its own network.
func TestReachableListenerNeedsTrustedPeers(t *testing.T) {
	if _, err := Listen(Config{Addr: "0.0.0.0:0", Trunk: "127.0.0.1:5080"}, nil); !errors.Is(err, ErrNoTrustedPeers) {
		t.Fatalf("0.0.0.0 without trusted peers: %v", err)
	}
	u, err := Listen(Config{Addr: "0.0.0.0:0", Trunk: "127.0.0.1:5080", Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u.udp.Close()
	u.tcp.Close()
	u.ua.Close()
	u, err = Listen(Config{Addr: "127.0.0.1:0", Trunk: "127.0.0.1:5080"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { u.udp.Close(); u.tcp.Close(); u.ua.Close() }()
	for ip, want := range map[string]bool{"127.0.0.9": true, "::ffff:127.0.0.2": true, "10.0.0.1": false, "::1": false} {
		if got := u.trust.allows(netip.MustParseAddr(ip)); got != want {
			t.Errorf("loopback listener trusts %s: %v", ip, got)
		}
	}
}

func TestAdmissionRateAndUnconfirmedPerSource(t *testing.T) {
	a := newAdmission(10, 3)
	src, other := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	now := time.Unix(1000, 0)
	var releases []func()
	for i := 0; i < 3; i++ {
		r, why := a.enter(src, now)
		if why != "" {
			t.Fatalf("call %d refused: %s", i, why)
		}
		releases = append(releases, r)
	}
	if _, why := a.enter(src, now); why != "unanswered calls" {
		t.Fatalf("fourth unconfirmed call: %q", why)
	}
	if _, why := a.enter(other, now); why != "" {
		t.Fatalf("another source is refused: %s", why)
	}
	releases[0]()
	releases[0]() // twice is once
	if a.unconfirmed(src) != 2 {
		t.Fatalf("unconfirmed %d, want 2", a.unconfirmed(src))
	}
	// The rate: a burst of 20, then 10 a second.
	b := newAdmission(10, 0)
	n := 0
	for ; n < 100; n++ {
		r, why := b.enter(src, now)
		if why != "" {
			break
		}
		r()
	}
	if n != 20 {
		t.Fatalf("burst of %d, want 20", n)
	}
	r, why := b.enter(src, now.Add(500*time.Millisecond))
	if why != "" {
		t.Fatalf("after half a second: %s", why)
	}
	r()
	// Idle sources are forgotten; busy ones are not.
	r, _ = b.enter(other, now)
	b.sweep(now.Add(time.Hour))
	if len(b.sources) != 1 {
		t.Fatalf("%d sources kept after an idle hour, want the busy one", len(b.sources))
	}
	r()
	b.swept = time.Time{}
	b.sweep(now.Add(time.Hour))
	if len(b.sources) != 0 {
		t.Fatalf("%d sources kept after an idle hour", len(b.sources))
	}
}
