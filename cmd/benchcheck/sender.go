package main

// Telling the senders' silences from the engine's. The engine logs, per recording, what each
// leg's sender left out (media's "call ended" line: first packet, end of the last, skipped
// timestamps, packets that reached the machine after their place was final) and what it lost
// itself (late, overrun). A silence run in a channel is the sender's when those figures
// account for it; every other run is the engine's, and only those count as gaps.

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// senderFigures are one recording's per-channel figures from the engine's log.
type senderFigures struct {
	first       [2]time.Duration // first packet after the bridge (-1: none came)
	sentUntil   [2]time.Duration // where the newest packet's audio ends
	skipped     [2]time.Duration
	arrivedLate [2]time.Duration
	late        [2]time.Duration // the engine's: reached the machine in time, dropped
	overrun     [2]time.Duration // the engine's: beyond its rings
}

// readEngineLog reads the "call ended" lines of a callrec log (slog text) into figures by
// recording path.
func readEngineLog(path string) (map[string]senderFigures, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]senderFigures{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="call ended"`) || !strings.Contains(line, " recording=") {
			continue
		}
		kv := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = strings.Trim(v, `"`)
			}
		}
		var s senderFigures
		ok := true
		for _, x := range []struct {
			key string
			to  *[2]time.Duration
		}{{"first_ms", &s.first}, {"sent_until_ms", &s.sentUntil}, {"skipped_ms", &s.skipped},
			{"arrived_late_ms", &s.arrivedLate}, {"late_ms", &s.late}, {"overrun_ms", &s.overrun}} {
			v, err := pair(kv[x.key])
			if err != nil {
				ok = false
				break
			}
			*x.to = v
		}
		if ok && kv["recording"] != "" {
			out[kv["recording"]] = s
		}
	}
	return out, sc.Err()
}

// pair parses "A/B" milliseconds; -1 stays -1 (none).
func pair(s string) ([2]time.Duration, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return [2]time.Duration{}, fmt.Errorf("figure %q", s)
	}
	var out [2]time.Duration
	for i, v := range []string{a, b} {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return out, err
		}
		if n < 0 {
			out[i] = -1
		} else {
			out[i] = time.Duration(n) * time.Millisecond
		}
	}
	return out, nil
}

// attribution decides, run by run, whose a channel's silences are.
type attribution struct {
	fig    *senderFigures
	ch     int
	budget time.Duration // Skipped + ArrivedLate not yet matched to a silence
}

func newAttribution(fig *senderFigures, ch int) *attribution {
	a := &attribution{fig: fig, ch: ch}
	if fig != nil {
		a.budget = fig.skipped[ch] + fig.arrivedLate[ch]
	}
	return a
}

// senders reports whether the silence run [from, to) of a channel whose file is length long
// is its sender's: before its first packet, after its last, or covered by what the sender
// skipped or delivered too late. Without figures nothing is the sender's.
func (a *attribution) senders(from, to, length time.Duration) bool {
	if a.fig == nil {
		return false
	}
	f, c := a.fig, a.ch
	if f.first[c] < 0 {
		return true // nothing came at all
	}
	if from == 0 && to <= f.first[c]+maxSilence {
		return true
	}
	if to == length && from+maxSilence >= f.sentUntil[c] {
		return true
	}
	over := to - from - maxSilence
	if over <= a.budget {
		a.budget -= over
		return true
	}
	return false
}
