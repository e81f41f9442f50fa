// Package ratelimit counts failed attempts per key (a client IP, a user name) in a fixed window,
// so brute force stays slow without locking anyone out for longer than the window. The web login
// and the FTPS/SFTP logins use it alike.
package ratelimit

import (
	"sync"
	"time"
)

// Failures counts failed attempts per key. It is safe for concurrent use.
type Failures struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	hits   map[string]*window
	now    func() time.Time
}

type window struct {
	start time.Time
	n     int
}

// New allows max failures per key within per (5 and 15 minutes when zero).
func New(max int, per time.Duration) *Failures {
	if max <= 0 {
		max = 5
	}
	if per <= 0 {
		per = 15 * time.Minute
	}
	return &Failures{max: max, window: per, hits: map[string]*window{}, now: time.Now}
}

// Blocked reports whether key has used up its attempts, and for how long it stays blocked.
func (l *Failures) Blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.hits[key]
	if w == nil {
		return false, 0
	}
	left := w.start.Add(l.window).Sub(l.now())
	if left <= 0 {
		delete(l.hits, key)
		return false, 0
	}
	return w.n >= l.max, left
}

// Fail records a failed attempt for key.
func (l *Failures) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.hits[key]
	if w == nil || now.Sub(w.start) >= l.window {
		w = &window{start: now}
		l.hits[key] = w
	}
	w.n++
	if len(l.hits) > 100_000 { // bound memory under a spray of keys
		for k, v := range l.hits {
			if now.Sub(v.start) >= l.window {
				delete(l.hits, k)
			}
		}
	}
}

// Reset forgets key after a successful attempt. Reset the account's key only, never the client
// address's: a success with one account must not give an address new guesses at the others.
func (l *Failures) Reset(key string) {
	l.mu.Lock()
	delete(l.hits, key)
	l.mu.Unlock()
}
