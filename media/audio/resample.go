package audio

import (
	"math"
	"runtime"
	"slices"
	"sync"
)

// Resampler design. Each output sample is a windowed-sinc (Kaiser) interpolation of the input at
// time n*in/out. The band edge is half the lower of the two rates; the transition band runs from
// passLow to stopHigh times that edge: for a 16 kHz output the passband is flat to 7 kHz and the
// stopband (stopDB down) starts at 9 kHz, so a 9 kHz tone cannot alias back into the speech band.
// The taps are float32 (their rounding sits near -140 dB) and each output is an independent dot
// product, so long blocks are split across CPUs.
const (
	passLow  = 0.875
	stopHigh = 1.125
	stopDB   = 96.0
	// maxPhases bounds the tap table. Rational ratios with more phases than this (odd rates such
	// as 44099 Hz) use maxPhases tabulated phases and interpolate linearly between them, an error
	// near -120 dB.
	maxPhases = 1024
)

// resampler converts a mono float32 stream from one rate to another. It is streaming: input can
// be fed in blocks of any size and it holds only one filter length of history.
type resampler struct {
	up, down int64 // output time step in input samples is down/up (reduced fraction)
	k        int   // taps per phase (multiple of 4)
	half     int   // taps reach half-1 samples back and half forward of the interpolation point
	phases   int64 // rows in taps (== up when exact)
	exact    bool
	taps     []float32 // row p = filter at fractional offset p/phases, k taps

	buf  []float32 // input history; buf[0] holds absolute input index base
	base int64
	in   int64 // input samples received
	n    int64 // next output index
	done bool
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 200; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// filter is a designed tap table; read-only once built, so resamplers share it.
type filter struct {
	up, down int64
	k, half  int
	phases   int64
	exact    bool
	taps     []float32
}

// designs caches recent filters: the engine loads every announcement at the same rates, and a
// table for an odd rate takes tens of milliseconds to compute.
var designs struct {
	sync.Mutex
	m map[[2]int]*filter
}

func design(inRate, outRate int) *filter {
	key := [2]int{inRate, outRate}
	designs.Lock()
	if f := designs.m[key]; f != nil {
		designs.Unlock()
		return f
	}
	designs.Unlock()
	f := newFilter(inRate, outRate)
	designs.Lock()
	if designs.m == nil || len(designs.m) >= 8 {
		designs.m = map[[2]int]*filter{}
	}
	designs.m[key] = f
	designs.Unlock()
	return f
}

func newFilter(inRate, outRate int) *filter {
	g := gcd(int64(inRate), int64(outRate))
	r := &filter{up: int64(outRate) / g, down: int64(inRate) / g}
	edge := float64(min(inRate, outRate)) / 2
	df := (stopHigh - passLow) * edge / float64(inRate) // transition width, cycles per input sample
	beta := 0.1102 * (stopDB - 8.7)
	n := int(math.Ceil((stopDB - 8) / (2.285 * 2 * math.Pi * df)))
	r.k = (n + 1 + 3) &^ 3
	r.half = r.k / 2
	r.exact = r.up <= maxPhases
	r.phases = r.up
	rows := r.up
	if !r.exact {
		r.phases = maxPhases
		rows = maxPhases + 1
	}
	fc := edge / float64(inRate) // cutoff, cycles per input sample
	// Every tap is the windowed sinc at a multiple of 1/phases input samples, and the filter is
	// symmetric: evaluate it once per grid point from the centre out (the Bessel function is
	// the expensive part: an odd rate needs a million taps).
	P := r.phases
	grid := make([]float64, int64(r.half)*P+1)
	norm := 1 / besselI0(beta)
	for g := range grid {
		t := float64(g) / float64(P)
		x := t / float64(r.half)
		if x >= 1 {
			continue
		}
		s := 2 * fc
		if t != 0 {
			s = math.Sin(2*math.Pi*fc*t) / (math.Pi * t)
		}
		grid[g] = s * besselI0(beta*math.Sqrt(1-x*x)) * norm
	}
	r.taps = make([]float32, int(rows)*r.k)
	for p := int64(0); p < rows; p++ {
		row := r.taps[int(p)*r.k : int(p+1)*r.k]
		for j := range row {
			// Tap j weighs input sample i-half+1+j for an interpolation point at i+p/P.
			g := p - int64(j-r.half+1)*P
			if g < 0 {
				g = -g
			}
			if g < int64(len(grid)) {
				row[j] = float32(grid[g])
			}
		}
	}
	return r
}

func newResampler(inRate, outRate int) *resampler {
	f := design(inRate, outRate)
	r := &resampler{up: f.up, down: f.down, k: f.k, half: f.half, phases: f.phases, exact: f.exact, taps: f.taps}
	r.buf = make([]float32, r.k, r.k+8192)
	r.base = -int64(r.k)
	return r
}

// outLen is the number of output samples for in input samples: the exact ratio, rounded up.
func (r *resampler) outLen(in int64) int64 { return (in*r.up + r.down - 1) / r.down }

// process appends the resampled form of in to dst. Pass final=true once (with or without more
// input) to flush the tail.
func (r *resampler) process(dst, in []float32, final bool) []float32 {
	if r.done {
		return dst
	}
	r.buf = append(r.buf, in...)
	r.in += int64(len(in))
	limit := int64(math.MaxInt64)
	if final {
		r.buf = append(r.buf, make([]float32, r.k)...)
		limit = r.outLen(r.in)
		r.done = true
	}
	// Output n needs input up to floor(n*down/up)+half, which must be below avail.
	avail := r.base + int64(len(r.buf))
	end := int64(0)
	if reach := avail - int64(r.half); reach > 0 {
		end = (reach*r.up + r.down - 1) / r.down
	}
	end = min(end, limit)
	if cnt := int(end - r.n); cnt > 0 {
		at := len(dst)
		dst = slices.Grow(dst, cnt)[:at+cnt]
		out := dst[at:]
		workers := min(runtime.GOMAXPROCS(0), 4, cnt/1024)
		if workers <= 1 {
			r.run(out, r.n)
		} else {
			var wg sync.WaitGroup
			per := (cnt + workers - 1) / workers
			for w := 0; w < cnt; w += per {
				part := out[w:min(w+per, cnt)]
				n0 := r.n + int64(w)
				wg.Go(func() { r.run(part, n0) })
			}
			wg.Wait()
		}
		r.n = end
	}
	// Keep only the history the next output needs.
	next := r.n * r.down / r.up
	if drop := int(next - int64(r.half) + 1 - r.base); drop > 0 && drop <= len(r.buf) {
		m := copy(r.buf, r.buf[drop:])
		r.buf = r.buf[:m]
		r.base += int64(drop)
	}
	return dst
}

// run computes outputs n0, n0+1, ... into out. It only reads the resampler's state, so several
// runs over disjoint ranges may go at once.
func (r *resampler) run(out []float32, n0 int64) {
	k, half := r.k, int64(r.half)
	pos := n0 * r.down
	i, rem := pos/r.up, pos%r.up
	stepI, stepR := r.down/r.up, r.down%r.up
	for o := range out {
		start := int(i - half + 1 - r.base)
		x := r.buf[start : start+k]
		if r.exact {
			p := int(rem)
			out[o] = dot(r.taps[p*k:p*k+k], x)
		} else {
			q := rem * r.phases
			p := int(q / r.up)
			f := float32(q%r.up) / float32(r.up)
			a := dot(r.taps[p*k:p*k+k], x)
			b := dot(r.taps[(p+1)*k:(p+2)*k], x)
			out[o] = a + f*(b-a)
		}
		i += stepI
		rem += stepR
		if rem >= r.up {
			rem -= r.up
			i++
		}
	}
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for j := 0; j+3 < len(a); j += 4 {
		s0 += a[j] * b[j]
		s1 += a[j+1] * b[j+1]
		s2 += a[j+2] * b[j+2]
		s3 += a[j+3] * b[j+3]
	}
	return (s0 + s1) + (s2 + s3)
}
