package dtmf

import "math"

// In-band detection follows the usual receiver design (as in Asterisk and spandsp): Goertzel
// filters at the eight DTMF frequencies over 12.75 ms windows, a window "hits" a key when
// the strongest row and column tone pass the checks below, and a key press is a run of hits.
//
// The windows overlap by half (a new one every 6.4 ms) so that the duration rules hardly
// depend on where a tone starts relative to the window grid. Measured over all 102 offsets
// (TestInbandDuration and its probe): tones of 23 ms or less are never reported, 35 ms and
// more always, in line with the usual "accept 40 ms, reject 23 ms" receiver rule.
const (
	windowAt8k = 102 // 12.75 ms: resolves the 73 Hz spacing of the row tones
	minHits    = 4   // consecutive windows showing the same key (spanning 32 ms)
	minMisses  = 3   // 3 missing windows: 204 samples = 25.5 ms of gap before a key may repeat
	maxQueued  = 64  // keys found in one Feed beyond the first; bounds memory for absurd frames

	// Twist: the column (high) tone may be up to 8 dB louder than the row tone ("normal"),
	// the row tone at most 4 dB louder ("reverse"), as Q.24 receivers accept.
	normalTwist  = 6.31
	reverseTwist = 2.51
	// Relative peak: every other tone of the same group must be 8 dB below the best one,
	// which rejects chords and wide-band sounds that excite neighbouring bins.
	relativePeak = 6.31
	// The two tones must carry this share of the window's energy. An exact tone pair scores
	// 1.0; a pair 1.5 % off frequency (must be accepted) about 0.8; speech, music and noise
	// spread their energy and stay far below.
	minToneShare = 0.6
	// Weakest tone accepted, as a sine amplitude in 16-bit PCM: about -38 dBm0, below the
	// -25 dBm0 a receiver must handle and above line noise.
	minAmplitude = 300
)

var (
	rowFreqs = [4]float64{697, 770, 852, 941}
	colFreqs = [4]float64{1209, 1336, 1477, 1633}
	keypad   = [4][4]byte{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
)

// Inband detects DTMF tones in linear PCM. Feed it every frame of a leg's decoded audio in
// order, of any length; it reports a key once when the press is long enough (about 32-40 ms)
// and again only after a gap of about 25 ms or more, so a held key is one digit and a brief
// dropout inside a tone does not split it.
type Inband struct {
	n, hop   int
	coef     [8]float64
	minPower float64

	win  []float64 // the last n samples; analysed whenever hop new ones arrived
	fill int

	cand     byte // key hit by the latest windows, 0 when none
	hits     int
	misses   int
	reported byte // key of the press in progress, 0 when silent

	queue []byte // keys found in a frame after the one already returned
}

// NewInband returns a detector for PCM at rate samples per second (8000 for G.711 legs).
func NewInband(rate int) *Inband {
	if rate <= 0 {
		rate = 8000
	}
	n := (windowAt8k*rate + 4000) / 8000
	n += n & 1
	d := &Inband{n: n, hop: n / 2, win: make([]float64, n), queue: make([]byte, 0, 8)}
	for i, f := range rowFreqs {
		d.coef[i] = 2 * math.Cos(2*math.Pi*f/float64(rate))
	}
	for i, f := range colFreqs {
		d.coef[4+i] = 2 * math.Cos(2*math.Pi*f/float64(rate))
	}
	// Goertzel power of a sine of amplitude A over n samples is (A*n/2)^2.
	a := float64(minAmplitude) * float64(n) / 2
	d.minPower = a * a
	return d
}

// Feed analyses one frame and returns a key when a press was recognised in it. Should a
// frame complete two presses (only possible with very long frames), the second is returned
// by the next call.
func (d *Inband) Feed(pcm []int16) (digit byte, ok bool) {
	for _, s := range pcm {
		d.win[d.fill] = float64(s)
		d.fill++
		if d.fill < d.n {
			continue
		}
		d.step(d.analyse())
		copy(d.win, d.win[d.hop:])
		d.fill = d.n - d.hop
	}
	if len(d.queue) > 0 {
		digit = d.queue[0]
		d.queue = append(d.queue[:0], d.queue[1:]...)
		return digit, true
	}
	return 0, false
}

// Reset drops buffered audio and any press in progress.
func (d *Inband) Reset() {
	d.fill, d.cand, d.hits, d.misses, d.reported = 0, 0, 0, 0, 0
	d.queue = d.queue[:0]
}

func (d *Inband) step(key byte) {
	if key == 0 {
		d.cand, d.hits = 0, 0
		d.misses++
		if d.misses >= minMisses {
			d.reported = 0
		}
		return
	}
	d.misses = 0
	if key == d.cand {
		d.hits++
	} else {
		d.cand, d.hits = key, 1
	}
	if d.hits >= minHits && key != d.reported {
		d.reported = key
		if len(d.queue) < maxQueued {
			d.queue = append(d.queue, key)
		}
	}
}

// analyse runs the Goertzel filters over the window and returns the key it shows, or 0.
func (d *Inband) analyse() byte {
	var total float64
	for _, x := range d.win {
		total += x * x
	}
	// A bin's Goertzel power is at most n*total (Cauchy-Schwarz): quiet windows, most of a
	// call, need no filtering at all.
	if total*float64(d.n) < d.minPower {
		return 0
	}
	// All eight filters in one pass over the window: independent recurrences pipeline well.
	var s1, s2 [8]float64
	c := &d.coef
	for _, x := range d.win {
		for k := range 8 {
			s1[k], s2[k] = x+c[k]*s1[k]-s2[k], s1[k]
		}
	}
	var power [8]float64
	for k := range 8 {
		power[k] = s1[k]*s1[k] + s2[k]*s2[k] - c[k]*s1[k]*s2[k]
	}
	row, col := best(power[:4]), best(power[4:])
	rp, cp := power[row], power[4+col]
	switch {
	case rp < d.minPower || cp < d.minPower:
		return 0
	case cp > rp*normalTwist || rp > cp*reverseTwist:
		return 0
	case (rp+cp)*2 < minToneShare*total*float64(d.n):
		// Energy share: a pure tone of power P in the window has Goertzel power P*n/2.
		return 0
	}
	for i := range 4 {
		if i != row && power[i]*relativePeak > rp {
			return 0
		}
		if i != col && power[4+i]*relativePeak > cp {
			return 0
		}
	}
	return keypad[row][col]
}

func best(p []float64) int {
	b := 0
	for i := range p {
		if p[i] > p[b] {
			b = i
		}
	}
	return b
}
