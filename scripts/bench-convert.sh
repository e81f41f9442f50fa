#!/bin/sh
# bench-convert.sh: time callrec's audio converter against sox on a 10-minute 48 kHz stereo
# 16-bit WAV (wall time and peak RSS from /usr/bin/time), best of N runs each, alternating so
# both see the same machine load. Prints a Markdown section; with --write it also replaces the
# "## Conversion" section of BENCHMARKS.md.
#
#   scripts/bench-convert.sh [--write] [runs]
#
# Needs sox and GNU time (Debian packages sox, time).
set -eu
cd "$(dirname "$0")/.."
write=0
if [ "${1:-}" = "--write" ]; then write=1; shift; fi
runs=${1:-3}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
in=$work/in.wav
sox -n -r 48000 -c 2 -b 16 "$in" synth 600 sine 440 sine 1000 vol 0.5

# The converter: the product's own `callrec convert IN OUT`.
go build -o "$work/callrec" ./cmd/callrec
tool="callrec convert"
printf '#!/bin/sh\nexec "%s" convert "$1" "$2" >/dev/null\n' "$work/callrec" >"$work/conv"
chmod +x "$work/conv"
rm -f "$work/probe.wav"

# measure NAME CMD...: appends "wall_s user_s sys_s maxrss_kb" to $work/NAME.
measure() {
	name=$1; shift
	/usr/bin/time -f '%e %U %S %M' -o "$work/t" "$@"
	cat "$work/t" >>"$work/$name"
}
i=0
while [ "$i" -lt "$runs" ]; do
	measure sox sox "$in" -c 1 -r 16000 -b 8 -e unsigned "$work/sox.wav" rate -v
	measure go "$work/conv" "$in" "$work/go.wav"
	i=$((i + 1))
done
# What the converter costs before any audio: the same command on a 1-second file.
sox -n -r 48000 -c 2 -b 16 "$work/short.wav" synth 1 sine 440
/usr/bin/time -f '%M' -o "$work/base" "$work/conv" "$work/short.wav" "$work/short16.wav"
base=$(cat "$work/base")
sox --i "$work/go.wav" | grep -q 'Sample Rate    : 16000' || { echo "bad output" >&2; exit 1; }

best() { sort -n "$work/$1" | head -1; }
set -- $(best sox); sw=$1 su=$2 ss=$3 sm=$4
set -- $(best go); gw=$1 gu=$2 gs=$3 gm=$4
peakgo=$(sort -k4 -n "$work/go" | tail -1 | cut -d' ' -f4)
ratio=$(awk -v g="$gw" -v s="$sw" 'BEGIN { printf "%.2f", g / s }')
gobench=$(go test ./media/audio -run '^$' -bench 'Convert' -benchtime 5x 2>&1 | grep '^Benchmark' | sed 's/[[:space:]][[:space:]]*/ /g')
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
load=$(cut -d' ' -f1-3 /proc/loadavg)

section=$(cat <<MD
## Conversion

10 minutes of 48 kHz stereo 16-bit WAV (115 MB, \`sox -n -r 48000 -c 2 -b 16 in.wav synth 600 sine 440 sine 1000 vol 0.5\`)
to WAV 8-bit unsigned 16 kHz mono. Best wall time of $runs alternating runs, measured with
\`/usr/bin/time\` by \`scripts/bench-convert.sh\` on $(date -u +%Y-%m-%d), $(nproc) CPUs ($cpu),
load average at the end $load.

| tool | wall | user | sys | peak RSS |
|---|---|---|---|---|
| \`sox IN -c 1 -r 16000 -b 8 -e unsigned OUT rate -v\` | ${sw} s | ${su} s | ${ss} s | ${sm} KB |
| $tool | ${gw} s | ${gu} s | ${gs} s | ${gm} KB (max over runs ${peakgo} KB) |

The same converter on a 1-second file peaks at ${base} KB: that much of its RSS is the program
itself, not the 10 minutes of audio.

Ratio callrec/sox (wall): **${ratio}**. callrec splits the resampling across the CPUs; sox
uses one. user+sys is the fairer figure on a loaded machine.

In-process, \`go test ./media/audio -run '^$' -bench Convert -benchtime 5x\` (10 s of input per
op; cpu-ns/op is process CPU time per op from getrusage, wall ns/op includes the machine's load):

\`\`\`
$gobench
\`\`\`
MD
)
printf '%s\n' "$section"

if [ "$write" = 1 ]; then
	[ -f BENCHMARKS.md ] || printf '# Benchmarks\n' >BENCHMARKS.md
	printf '%s\n' "$section" >"$work/section"
	awk -v f="$work/section" '
		BEGIN { while ((getline l < f) > 0) sec = sec l "\n" }
		/^## Conversion/ { skip = 1; if (!done) { printf "%s", sec; done = 1 }; next }
		skip && /^## / { skip = 0 }
		!skip { print }
		END { if (!done) printf "\n%s", sec }
	' BENCHMARKS.md >"$work/bm" && cat "$work/bm" >BENCHMARKS.md
fi
