package media

import (
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"callrec/media/audio"
)

// promptCache keeps announcements decoded to 8 kHz PCM, keyed by path and checked against the
// file's modification time, so an uploaded replacement is heard on the next call while a
// thousand calls share one copy of the same notice.
type promptCache struct {
	mu      sync.Mutex
	entries map[string]promptEntry
}

type promptEntry struct {
	mod     time.Time
	size    int64
	samples []int16
}

func (p *promptCache) load(path string) ([]int16, error) {
	if path == "" {
		return nil, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	e, ok := p.entries[path]
	p.mu.Unlock()
	if ok && e.mod.Equal(fi.ModTime()) && e.size == fi.Size() {
		return e.samples, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	samples, err := audio.LoadPCM(f, 8000)
	if err != nil {
		return nil, fmt.Errorf("media: prompt %s: %w", path, err)
	}
	p.mu.Lock()
	if p.entries == nil {
		p.entries = map[string]promptEntry{}
	}
	p.entries[path] = promptEntry{mod: fi.ModTime(), size: fi.Size(), samples: samples}
	p.mu.Unlock()
	return samples, nil
}

// samplesDuration is how long n samples at 8 kHz play.
func samplesDuration(n int) time.Duration {
	return time.Duration(n) * time.Second / 8000
}

// Tones of the European (ETSI/German) network: 425 Hz, ringback 1 s on 4 s off, busy
// 480 ms on 480 ms off. One period each, looped by the generator.
var (
	ringbackTone = tone(425, time.Second, 4*time.Second)
	busyTone     = tone(425, 480*time.Millisecond, 480*time.Millisecond)
)

func tone(hz float64, on, off time.Duration) []int16 {
	nOn := int(on.Seconds() * 8000)
	n := nOn + int(off.Seconds()*8000)
	s := make([]int16, n)
	for i := 0; i < nOn; i++ {
		s[i] = int16(6000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return s
}

// recordingName is the folder and base name of a call's file: folder
// call_recording/<sub>/<start>, name rec_<yyyymmdd>_<hhmmss>_<sub>_<start>_<a>_<b>_<c>,
// time = arrival in the customer's zone. A withheld caller is an empty field.
func recordingName(r Route, a, b string, arrival time.Time) (dir, base string) {
	loc := r.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation("Europe/Berlin"); err != nil {
			loc = time.UTC
		}
	}
	sub, start := pathSafe(r.SubscriberID), pathSafe(r.StartNumber)
	dir = "call_recording/" + sub + "/" + start
	base = "rec_" + arrival.In(loc).Format("20060102_150405") + "_" +
		strings.Join([]string{sub, start, pathSafe(a), pathSafe(b), pathSafe(r.Destination)}, "_")
	return dir, base
}

// pathSafe keeps a field from adding path elements or odd bytes to a file name.
func pathSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '+', r == '-':
			return r
		}
		return '-'
	}, s)
}
