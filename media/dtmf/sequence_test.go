package dtmf

import (
	"testing"
	"time"
)

func TestSequenceHashOne(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		name  string
		keys  string
		times []int
		want  []bool
	}{
		{"in time", "#1", []int{0, 2900}, []bool{false, true}},
		{"too late", "#1", []int{0, 3100}, []bool{false, false}},
		{"boundary", "#1", []int{0, 3000}, []bool{false, true}},
		{"1 alone", "1", []int{0}, []bool{false}},
		{"other key between", "#21", []int{0, 100, 200}, []bool{false, false, false}},
		{"hash again restarts window", "##1", []int{0, 2500, 5000}, []bool{false, false, true}},
		{"twice", "#1#1", []int{0, 100, 200, 300}, []bool{false, true, false, true}},
		{"late then fresh", "#1#1", []int{0, 4000, 5000, 5100}, []bool{false, false, false, true}},
		{"clock backwards", "#1", []int{1000, 0}, []bool{false, false}},
	} {
		s := NewSequence("#1", 3*time.Second)
		for i := range c.keys {
			if got := s.Feed(c.keys[i], at(c.times[i])); got != c.want[i] {
				t.Errorf("%s: key %d %q: got %v", c.name, i, c.keys[i], got)
			}
		}
	}
}

func TestSequenceZeroValues(t *testing.T) {
	var s Sequence
	if s.Feed('#', time.Now()) {
		t.Fatal("zero Sequence matched")
	}
	s = Sequence{Digits: "*"} // Window 0 means DefaultWindow
	if !s.Feed('*', time.Now()) {
		t.Fatal("single-key sequence did not match")
	}
}
