// Command benchcheck is the load benchmark's helper (scripts/bench-engine.sh):
//
//	benchcheck speech OUT.ulaw SECONDS SEED
//		writes a speech-like test signal as raw mu-law 8 kHz for sipp's rtp_stream: a voiced
//		source (pulse train at a wandering pitch) through two moving formant resonators, plus
//		breath noise, under a 4 Hz syllable envelope that never falls to silence. Real speech
//		has pauses, and a pause cannot be told from a gap; this signal can be.
//	benchcheck check [-len-tolerance=DURATION] [-engine-log=FILE] CALLS.csv DATADIR [WINDOW_FROM WINDOW_TO]
//		checks every recording of the calls the bench placed. CALLS.csv (sqlite3 -csv) has
//		path,bridged,ended,duration_ms,outcome,status,channels,arrival per call; a call that
//		never connected counts as a failure, and the arrivals give the set-up rate. Each file must be
//		16-bit 8 kHz stereo, its length equal to the connected time (bridged..ended) within
//		40 ms (or -len-tolerance), no channel may hold a silence run longer than 60 ms (both inputs are
//		continuous), and both channels must start and end together (within 60 ms). With a
//		window (unix seconds) it also counts the calls connected throughout it. An optional
//		ninth field lists channels ("0", "1", "01") whose input was known not to be
//		continuous (the sender skipped audio): they are left out of the silence and
//		alignment checks and counted as sender_skipped. With -engine-log (the engine's log
//		at info level) each recording's sender figures decide, silence by silence, which are
//		the senders' (before their first packet, after their last, audio they skipped or
//		delivered too late: sender.go); only the others count as gaps and misalignment.
//
// It prints one summary line of key=value pairs, then the first problems, and exits 1 when a
// file fails.
package main

import (
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"callrec/media/audio"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "speech":
		err = speechCmd(os.Args[2:])
	case "check":
		err = checkCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcheck:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchcheck speech OUT.ulaw SECONDS SEED | benchcheck check [-len-tolerance=D] [-engine-log=FILE] CALLS.csv DATADIR [FROM TO]")
	os.Exit(2)
}

func speechCmd(args []string) error {
	if len(args) != 3 {
		usage()
	}
	secs, err1 := strconv.Atoi(args[1])
	seed, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || secs <= 0 {
		usage()
	}
	pcm := speech(secs*8000, uint64(seed))
	out := make([]byte, len(pcm))
	audio.ULawEncode(out, pcm)
	return os.WriteFile(args[0], out, 0o644)
}

// resonator is a two-pole band-pass filter (a formant).
type resonator struct{ y1, y2 float64 }

func (r *resonator) step(x, freq, bw float64) float64 {
	const fs = 8000.0
	rad := math.Exp(-math.Pi * bw / fs)
	a1 := 2 * rad * math.Cos(2*math.Pi*freq/fs)
	a2 := -rad * rad
	y := (1-rad)*x + a1*r.y1 + a2*r.y2
	r.y2, r.y1 = r.y1, y
	return y
}

// speech makes n samples of the speech-like signal; seed varies it so the two directions differ.
func speech(n int, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	raw := make([]float64, n)
	var f1, f2 resonator
	phase := 0.0
	peak := 0.0
	for i := range raw {
		t := float64(i) / 8000
		pitch := 120 + 25*math.Sin(2*math.Pi*0.7*t+float64(seed))
		phase += pitch / 8000
		src := 0.0
		if phase >= 1 {
			phase--
			src = 1
		}
		src += 0.05 * rng.NormFloat64()
		form1 := 500 + 250*math.Sin(2*math.Pi*1.3*t+float64(seed))
		form2 := 1500 + 600*math.Sin(2*math.Pi*0.9*t+2*float64(seed))
		v := f1.step(src, form1, 90) + 0.6*f2.step(src, form2, 120)
		// Syllables at about 4 Hz; the floor keeps the signal far from digital silence.
		env := 0.3 + 0.7*math.Pow(math.Abs(math.Sin(math.Pi*4*t+float64(seed))), 2)
		raw[i] = v * env
		peak = max(peak, math.Abs(raw[i]))
	}
	pcm := make([]int16, n)
	for i, v := range raw {
		pcm[i] = int16(v / peak * 12000)
	}
	return pcm
}

type result struct {
	files, bad, gaps, misaligned, missing, unconnected, skipped int
	// Where the over-long silences lie: at a channel's start, in its middle, at its end.
	// Edges are where a sender that lags (or starts late) leaves silence.
	gapLead, gapMid, gapTrail int
	// With the engine's figures (-engine-log): the files that had them, and the silence runs
	// they put down to the senders (not counted as gaps), where they lie, and in how many files.
	attributed                         int
	senderLead, senderMid, senderTrail int
	senderFiles                        int
	maxLenErr, maxAlign                time.Duration
	longestGap                         time.Duration
	problems                           []string
	// gapAt counts gaps by the wall-clock tenth of a second they start in: gaps in many
	// files at the same instant mean the process (or the machine) stalled, not one call.
	gapAt map[int64]int
}

func (r *result) problem(format string, args ...any) {
	if len(r.problems) < 20 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

func checkCmd(args []string) error {
	// -len-tolerance=D: how far a file's length may be from bridged..ended (default 40 ms);
	// after kill -9 the end is the kill, and the audio still buffered then is not in the file.
	// -engine-log=FILE: the engine's log, whose "call ended" lines carry each recording's
	// sender figures (sender.go): silences they account for are the senders', not gaps.
	var figures map[string]senderFigures
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if v, ok := strings.CutPrefix(args[0], "-len-tolerance="); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				usage()
			}
			lenTolerance = d
		} else if v, ok := strings.CutPrefix(args[0], "-engine-log="); ok {
			var err error
			if figures, err = readEngineLog(v); err != nil {
				return err
			}
		} else {
			usage()
		}
		args = args[1:]
	}
	if len(args) != 2 && len(args) != 4 {
		usage()
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		return err
	}
	var from, to time.Time
	if len(args) == 4 {
		a, _ := strconv.ParseFloat(args[2], 64)
		b, _ := strconv.ParseFloat(args[3], 64)
		from, to = time.Unix(0, int64(a*1e9)), time.Unix(0, int64(b*1e9))
	}
	var r result
	throughout := 0
	var first, last time.Time
	outcomes := map[string]int{}
	for _, row := range rows {
		if len(row) < 8 {
			return fmt.Errorf("CSV row %v: want 8 fields", row)
		}
		path, outcome, status := row[0], row[4], row[5]
		outcomes[outcome+"/"+status]++
		if a, err := parseTime(row[7]); err == nil {
			if first.IsZero() || a.Before(first) {
				first = a
			}
			if a.After(last) {
				last = a
			}
		}
		if row[1] == "" {
			r.unconnected++
			r.problem("call arrived %s never connected (outcome %q)", row[7], outcome)
			continue
		}
		bridged, err1 := parseTime(row[1])
		ended, err2 := parseTime(row[2])
		if err1 != nil || err2 != nil {
			r.bad++
			r.problem("%s: bridged %q ended %q unreadable", path, row[1], row[2])
			continue
		}
		if !from.IsZero() && !bridged.After(from) && !ended.Before(to) {
			throughout++
		}
		if path == "" {
			r.missing++
			r.problem("call bridged %v has no recording", bridged)
			continue
		}
		var skip [2]bool
		if len(row) > 8 {
			skip = [2]bool{strings.Contains(row[8], "0"), strings.Contains(row[8], "1")}
		}
		var fig *senderFigures
		if f, ok := figures[path]; ok {
			fig = &f
			r.attributed++
		}
		r.checkFile(filepath.Join(args[1], filepath.FromSlash(path)), bridged, ended.Sub(bridged), skip, fig)
	}
	var oc []string
	for k, v := range outcomes {
		oc = append(oc, fmt.Sprintf("%s:%d", k, v))
	}
	rate := 0.0
	if span := last.Sub(first).Seconds(); span > 0 {
		rate = float64(len(rows)-1) / span
	}
	fmt.Printf("calls=%d unconnected=%d files=%d bad=%d missing=%d gaps=%d misaligned=%d max_len_err_ms=%d max_align_ms=%d longest_silence_ms=%d connected_throughout_window=%d setup_rate=%.1f sender_skipped=%d silences_start_middle_end=%d/%d/%d attributed=%d sender_silences=%d sender_start_middle_end=%d/%d/%d sender_files=%d outcomes=%s\n",
		len(rows), r.unconnected, r.files, r.bad, r.missing, r.gaps, r.misaligned, r.maxLenErr.Milliseconds(), r.maxAlign.Milliseconds(),
		r.longestGap.Milliseconds(), throughout, rate, r.skipped, r.gapLead, r.gapMid, r.gapTrail,
		r.attributed, r.senderLead+r.senderMid+r.senderTrail, r.senderLead, r.senderMid, r.senderTrail, r.senderFiles, strings.Join(oc, ","))
	if len(r.gapAt) > 0 {
		type at struct {
			t int64
			n int
		}
		var ats []at
		for t, n := range r.gapAt {
			ats = append(ats, at{t, n})
		}
		sort.Slice(ats, func(i, j int) bool { return ats[i].n > ats[j].n || ats[i].n == ats[j].n && ats[i].t < ats[j].t })
		var b strings.Builder
		for _, a := range ats[:min(8, len(ats))] {
			fmt.Fprintf(&b, " %s:%d", time.UnixMilli(a.t*100).UTC().Format("15:04:05.0"), a.n)
		}
		fmt.Printf("  gap starts by wall clock (UTC tenth of a second: channels):%s\n", b.String())
	}
	for _, p := range r.problems {
		fmt.Println("  " + p)
	}
	if r.bad+r.gaps+r.misaligned+r.missing+r.unconnected > 0 {
		return errors.New("recordings failed the check")
	}
	return nil
}

// parseTime reads the times gorm's SQLite driver stores.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", "2006-01-02T15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q", s)
}

var lenTolerance = 40 * time.Millisecond

const (
	maxSilence   = 60 * time.Millisecond
	silenceLevel = 16 // |sample| at or below this is silence (mu-law's smallest steps are 8)
)

func (r *result) checkFile(path string, bridged time.Time, connected time.Duration, skip [2]bool, fig *senderFigures) {
	r.files++
	ch, pcm, err := readWAV(path)
	if err != nil {
		r.bad++
		r.problem("%s: %v", path, err)
		return
	}
	if ch != 2 {
		r.bad++
		r.problem("%s: %d channels, want stereo", path, ch)
		return
	}
	frames := len(pcm) / ch
	length := time.Duration(frames) * time.Second / 8000
	if d := (length - connected).Abs(); d > lenTolerance {
		r.bad++
		r.problem("%s: length %v, connected %v (off by %v)", path, length, connected, d)
	} else {
		r.maxLenErr = max(r.maxLenErr, d)
	}
	var first, last [2]int
	var senderStart, senderEnd [2]bool // a channel's lead or trailing silence is its sender's
	gapped, senders := false, false
	at := func(i int) time.Duration { return time.Duration(i) * time.Second / 8000 }
	for c := 0; c < ch; c++ {
		first[c], last[c] = -1, -1
		if skip[c] {
			r.skipped++
			continue
		}
		attr := newAttribution(fig, c)
		run, longest := 0, 0
		for i := 0; i <= frames; i++ {
			if i < frames {
				if s := pcm[i*ch+c]; s <= silenceLevel && s >= -silenceLevel {
					run++
					continue
				}
			}
			switch {
			case run <= int(maxSilence*8000/time.Second):
				longest = max(longest, run)
			case attr.senders(at(i-run), at(i), at(frames)):
				senders = true
				switch {
				case i-run == 0:
					r.senderLead++
					senderStart[c] = true
				case i == frames:
					r.senderTrail++
					senderEnd[c] = true
				default:
					r.senderMid++
				}
			default:
				longest = max(longest, run)
				switch {
				case i-run == 0:
					r.gapLead++
				case i == frames:
					r.gapTrail++
				default:
					r.gapMid++
				}
				if r.gapAt == nil {
					r.gapAt = map[int64]int{}
				}
				r.gapAt[bridged.Add(at(i-run)).UnixMilli()/100]++
			}
			run = 0
			if i == frames {
				break
			}
			if first[c] < 0 {
				first[c] = i
			}
			last[c] = i
		}
		gap := time.Duration(longest) * time.Second / 8000
		r.longestGap = max(r.longestGap, gap)
		if gap > maxSilence {
			gapped = true
			r.problem("%s: channel %d has %v of silence", path, c, gap)
		}
	}
	if gapped {
		r.gaps++
	}
	if senders {
		r.senderFiles++
	}
	if skip[0] || skip[1] {
		return
	}
	if first[0] < 0 || first[1] < 0 {
		if !senderStart[0] && !senderStart[1] {
			r.misaligned++
			r.problem("%s: a channel is silent throughout", path)
		}
		return
	}
	// Channels start and end together, unless a sender started late or stopped early.
	align := 0
	if !senderStart[0] && !senderStart[1] {
		align = abs(first[0] - first[1])
	}
	if !senderEnd[0] && !senderEnd[1] {
		align = max(align, abs(last[0]-last[1]))
	}
	a := time.Duration(align) * time.Second / 8000
	r.maxAlign = max(r.maxAlign, a)
	if a > maxSilence {
		r.misaligned++
		r.problem("%s: channels start %d/%d and end %d/%d (frames)", path, first[0], first[1], last[0], last[1])
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// readWAV reads a 16-bit PCM WAV of 8 kHz: channel count and interleaved samples. The data
// chunk must be complete (its size as the header says).
func readWAV(path string) (int, []int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, nil, errors.New("not a WAV file")
	}
	if riff := int(binary.LittleEndian.Uint32(b[4:])); riff+8 != len(b) {
		return 0, nil, fmt.Errorf("RIFF size %d, file %d bytes", riff+8, len(b))
	}
	ch := 0
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		if size > len(body) {
			return 0, nil, fmt.Errorf("chunk %q claims %d bytes, %d left", id, size, len(body))
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return 0, nil, errors.New("short fmt chunk")
			}
			ch = int(binary.LittleEndian.Uint16(body[2:]))
			rate := binary.LittleEndian.Uint32(body[4:])
			bits := binary.LittleEndian.Uint16(body[14:])
			if rate != 8000 || bits != 16 || ch < 1 {
				return 0, nil, fmt.Errorf("format %d Hz %d bits %d channels", rate, bits, ch)
			}
		case "data":
			if ch == 0 {
				return 0, nil, errors.New("data before fmt")
			}
			pcm := make([]int16, size/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return ch, pcm, nil
		}
		off += 8 + size + size&1
	}
	return 0, nil, errors.New("no data chunk")
}
