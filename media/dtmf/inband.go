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
//
// Cost matters (it may run on a leg for the whole call), so a half-offset window is only
// analysed when a neighbouring full-grid window shows a key: a window between two misses
// could only be an isolated hit, which can neither make a press (minHits) nor matter for a
// gap. Row filters run first and most speech and noise is rejected before the columns.
type Inband struct {
	n, hop   int
	coef     [8]float64
	minPower float64

	buf     []int16 // the last 3 hops: the window ending now and the one ending a hop ago
	fill    int
	grid    bool // the window ending now is on the analysed grid
	lastHit bool // the previous grid window showed a key

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
	d := &Inband{n: n, hop: n / 2, buf: make([]int16, 3*(n/2)), queue: make([]byte, 0, 8)}
	for i, f := range rowFreqs {
		d.coef[i] = 2 * math.Cos(2*math.Pi*f/float64(rate))
	}
	for i, f := range colFreqs {
		d.coef[4+i] = 2 * math.Cos(2*math.Pi*f/float64(rate))
	}
	// Goertzel power of a sine of amplitude A over n samples is (A*n/2)^2.
	a := float64(minAmplitude) * float64(n) / 2
	d.minPower = a * a
	d.Reset()
	return d
}

// Feed analyses one frame and returns a key when a press was recognised in it. Should a
// frame complete two presses (only possible with very long frames), the second is returned
// by the next call.
func (d *Inband) Feed(pcm []int16) (digit byte, ok bool) {
	for len(pcm) > 0 {
		c := copy(d.buf[d.fill:], pcm)
		pcm, d.fill = pcm[c:], d.fill+c
		if d.fill < len(d.buf) {
			break
		}
		if d.grid {
			now := d.analyse(d.buf[d.hop:])
			var before byte
			if now != 0 || d.lastHit {
				before = d.analyse(d.buf[:d.n])
			}
			d.step(before)
			d.step(now)
			d.lastHit = now != 0
		}
		d.grid = !d.grid
		copy(d.buf, d.buf[d.hop:])
		d.fill = len(d.buf) - d.hop
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
	clear(d.buf)
	d.fill = d.hop // a hop of silence first, so the first window ends after n samples
	d.grid = true
	d.lastHit = false
	d.cand, d.hits, d.misses, d.reported = 0, 0, 0, 0
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

// analyse returns the key window shows, or 0.
func (d *Inband) analyse(win []int16) byte {
	var sum int64
	for _, x := range win {
		sum += int64(x) * int64(x)
	}
	total := float64(sum)
	n := float64(len(win))
	// A bin's Goertzel power is at most n*total (Cauchy-Schwarz): quiet windows, most of a
	// call, need no filtering at all.
	if total*n < d.minPower {
		return 0
	}
	// Energy share: a pure tone of power P in the window has Goertzel power P*n/2, so the
	// two tones' share is (rp+cp) / (total*n/2).
	need := minToneShare * total * n / 2
	var power [8]float64
	goertzel4(win, (*[4]float64)(d.coef[:4]), (*[4]float64)(power[:4]))
	row := best(power[:4])
	rp := power[row]
	if rp < d.minPower || rp*(1+normalTwist) < need {
		return 0
	}
	for i := range 4 {
		if i != row && power[i]*relativePeak > rp {
			return 0
		}
	}
	goertzel4(win, (*[4]float64)(d.coef[4:]), (*[4]float64)(power[4:]))
	col := best(power[4:])
	cp := power[4+col]
	switch {
	case cp < d.minPower:
		return 0
	case cp > rp*normalTwist || rp > cp*reverseTwist:
		return 0
	case rp+cp < need:
		return 0
	}
	for i := range 4 {
		if i != col && power[4+i]*relativePeak > cp {
			return 0
		}
	}
	return keypad[row][col]
}

// goertzel4 runs four Goertzel filters in one pass, with their state in registers: four
// independent recurrences keep the FPU busy where one would wait on its own latency. x-b
// does not depend on the previous step's result, so only a multiply and an add sit on
// each recurrence's critical path.
func goertzel4(win []int16, c *[4]float64, p *[4]float64) {
	c0, c1, c2, c3 := c[0], c[1], c[2], c[3]
	var a0, a1, a2, a3, b0, b1, b2, b3 float64
	for _, s := range win {
		x := float64(s)
		a0, b0 = (x-b0)+c0*a0, a0
		a1, b1 = (x-b1)+c1*a1, a1
		a2, b2 = (x-b2)+c2*a2, a2
		a3, b3 = (x-b3)+c3*a3, a3
	}
	p[0] = a0*a0 + b0*b0 - c0*a0*b0
	p[1] = a1*a1 + b1*b1 - c1*a1*b1
	p[2] = a2*a2 + b2*b2 - c2*a2*b2
	p[3] = a3*a3 + b3*b3 - c3*a3*b3
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
