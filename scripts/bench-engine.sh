#!/usr/bin/env bash
# bench-engine.sh: N concurrent recorded calls through the real callrec binary, driven by
# Debian's sipp on loopback, against a bare UDP relay carrying the same RTP load.
#
#   make bench-engine                 # N=1000 LEN=60
#   N=100 LEN=20 make bench-engine
#
# Environment: SRC=DIR (build an experimental tree instead of REV), N (calls, 1000), LEN (connected seconds per call, 60), RATE (call set-ups per
# second, 50), RELAY_LEN (hold time of the relay baseline's calls, default LEN), NO_ROW=1 (do
# not write BENCHMARKS.md), KEEP=1 (keep the work folder), PROFILE=SECONDS (CPU profile of the
# engine over the steady window via CALLREC_PPROF, when the binary has it), NICE (the priority
# of the engine, the relay and the sipp peers: -20 by default as root, so that on a machine
# shared with other work CFS gives the benchmark almost all CPU against nice-0 processes; 0
# otherwise), ENGINE_NICE (the engine's and the relay's alone, default NICE), SIPP_NICE (the
# sipp peers' alone, default NICE), STALL=SECONDS (SIGSTOP the engine that long in the middle
# of the steady window, then SIGCONT: a stalled VM or a long pause), BURN=N (N busy loops at
# the engine's priority beside both runs: CPU starvation by a neighbour the scheduler treats as
# the engine's equal), KILL=1 (SIGKILL the engine in the middle of the steady window with all
# N calls in flight, start it again on the same data so that it repairs the files, and check
# every file against bridge..kill within KILL_TOLERANCE, default 1 s; the window ends at the
# kill and no relay run follows). The row records all of them and the load average before and
# after.
# BENCH_LOCK (default /work/.bench.lock when /work exists, else /tmp/callrec-bench.lock): the
# run holds it with flock, so that two benchmarks never run at once. GOGC and GOMEMLIMIT pass
# through to the engine. Missing tools (sipp, sqlite3, jq, bc, sox) are installed with apt-get
# when run as root, else named with their Debian packages.
#
# The engine run: `callrec serve --demo`, the demo pool booked through the API (stereo,
# automatic, caller notice off: the callee still hears the whisper before the bridge, so each
# caller holds LEN s plus the whisper's length). sipp callers send a speech-like signal
# (benchcheck speech: never silent, so a gap is unambiguous) in 20 ms PCMU packets, looped;
# the sipp callee answers and sends another one back. CPU is utime+stime of the callrec
# process from /proc/PID/stat over the window when all N calls are connected; memory is the
# VmRSS growth from idle to full load, per call. Afterwards every file is checked against the
# calls table (cmd/benchcheck).
#
# The baseline: cmd/rtprelay forwards the same sipp load (same audio, same N, same rate,
# caller and callee talk SIP to each other directly and put the relay's ports in their SDP).
set -euo pipefail
cd "${BENCH_REPO:-$(dirname "$0")/..}"

if [ -z "${BENCH_LOCKED:-}" ] && command -v flock >/dev/null; then
	LOCK=${BENCH_LOCK:-}
	if [ -z "$LOCK" ]; then if [ -d /work ]; then LOCK=/work/.bench.lock; else LOCK=/tmp/callrec-bench.lock; fi; fi
	echo "bench-engine: waiting for $LOCK" >&2
	# A session of its own: with the scheduler's autogroups (kernel.sched_autogroup_enabled)
	# a nice value counts only within a session, every session weighing the same; the
	# session's own priority (/proc/self/autogroup) is what counts against other work.
	# bash reads a script as it runs it: the run uses a copy, so that editing the script
	# meanwhile cannot break a run that waits for the lock or is under way.
	COPY=$(mktemp /tmp/bench-engine.XXXXXX.sh)
	cp "$0" "$COPY"
	BENCH_REPO=$PWD BENCH_LOCKED=$LOCK exec flock "$LOCK" setsid -w bash -c 'bash "$0" "$@"; rc=$?; rm -f "$0"; exit $rc' "$COPY" "$@"
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

N=${N:-1000}
LEN=${LEN:-60}
RATE=${RATE:-50}
RELAY_LEN=${RELAY_LEN:-$LEN}
HTTP_PORT=${HTTP_PORT:-18480}
SIP_PORT=${SIP_PORT:-15460}
TRUNK_PORT=${TRUNK_PORT:-15480}
RELAY_SIP_PORT=${RELAY_SIP_PORT:-15490}
RELAY_BASE=${RELAY_BASE:-50000}

STALL=${STALL:-0}
BURN=${BURN:-0}
KILL=${KILL:-0}
KILL_TOLERANCE=${KILL_TOLERANCE:-1s}

# tool:Debian package for everything the script runs beyond coreutils and Go.
NEED="sipp:sip-tester sqlite3:sqlite3 jq:jq bc:bc soxi:sox curl:curl python3:python3-minimal"
missing=()
for tp in $NEED; do command -v "${tp%%:*}" >/dev/null || missing+=("${tp#*:}"); done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "bench-engine: installing ${missing[*]}" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "bench-engine: missing tools; install the Debian packages: ${missing[*]}" >&2
		exit 1
	fi
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt $((N * 6 + 200)) ]; then
	echo "bench-engine: open files limit $(ulimit -n) is too low for N=$N" >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/callrec-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; kill -CONT "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
log() { printf '[%s] %s\n' "$(date -u +%T)" "$*" >&2; }

# The binaries are built from the committed tree (REV, default HEAD), so the results row names
# exactly what ran, whatever colleagues have half-edited in the working tree.
REV=${REV:-HEAD}
COMMIT=$(git rev-parse --short "$REV")
log "building $COMMIT into $WORK/bin"
mkdir -p "$WORK/bin" "$WORK/data" "$WORK/sipp" "$WORK/src"
if [ -n "${SRC:-}" ]; then # an experiment: build that tree instead (the row says so)
	cp -r "$SRC"/. "$WORK/src"
	COMMIT="$COMMIT+$(basename "$SRC")"
else
	git archive "$REV" | tar -x -C "$WORK/src"
fi
# -trimpath: the tree's folder is new every run, and without it no package of it is taken from
# the build cache (minutes on a busy machine).
(cd "$WORK/src" && go build -trimpath -o "$WORK/bin/callrec" ./cmd/callrec && go build -trimpath -o "$WORK/bin/benchcheck" ./cmd/benchcheck &&
	go build -trimpath -o "$WORK/bin/rtprelay" ./cmd/rtprelay)
"$WORK/bin/benchcheck" speech "$WORK/caller.ulaw" 10 1
"$WORK/bin/benchcheck" speech "$WORK/callee.ulaw" 10 2

# cpu PID: clock ticks of user+system time; rss PID: VmRSS in KiB; waited PID: ms its threads
# spent runnable but waiting for a CPU (schedstat run_delay), the starvation measure.
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
waited() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$2} END {printf "%d", s/1e6}'; }
psi() { sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null || echo n/a; }
rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
# wchar PID: bytes it passed to write syscalls (the recordings, rewrites of provisional audio
# included; not the packets it sends). switches PID: its threads' context switches.
wchar() { awk '/^wchar/{print $2}' "/proc/$1/io"; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/{s+=$2} END {printf "%d", s}'; }
now() { date +%s.%N; }
hz=$(getconf CLK_TCK)
sleep_until() { local d; d=$(echo "$1 - $(now)" | bc -l); if [ "$(echo "$d > 0" | bc -l)" = 1 ]; then sleep "$d"; fi; }

fill() { # fill TEMPLATE OUT KEY=VALUE...
	local in=$1 out=$2; shift 2
	cp "$in" "$out"
	for kv in "$@"; do
		sed -i "s#{{${kv%%=*}}}#${kv#*=}#g" "$out"
	done
	sed -E -i 's#\{\{[A-Z_]+:-([^}]*)\}\}#\1#g' "$out" # {{NAME:-default}} left unset
}

if [ "$(id -u)" = 0 ]; then NICE=${NICE:--20}; else NICE=${NICE:-0}; fi
ENGINE_NICE=${ENGINE_NICE:-$NICE}
SIPP_NICE=${SIPP_NICE:-$NICE}
AUTOGROUP=none
if [ -w /proc/self/autogroup ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
	echo "$NICE" >/proc/self/autogroup 2>/dev/null || true
	AUTOGROUP="own, $(sed 's/.* nice /nice /' /proc/self/autogroup)"
fi
# setpriority is per thread: every thread of each process (sipp starts its RTP threads late,
# so the runs call this again once the calls are up).
renice_threads() { local n=$1 p t; shift; for p in "$@"; do for t in /proc/"$p"/task/*; do renice -n "$n" -p "${t##*/}" >/dev/null 2>&1 || true; done; done; }
renice_all() { [ "$SIPP_NICE" = 0 ] || renice_threads "$SIPP_NICE" "$@"; }

BURNERS=()
for _ in $(seq "$BURN"); do
	sh -c 'while :; do :; done' &
	BURNERS+=($!)
	PIDS+=($!)
done
[ "$BURN" = 0 ] || renice_threads "$ENGINE_NICE" "${BURNERS[@]}"
[ "$BURN" = 0 ] || log "$BURN busy loop(s) at nice $ENGINE_NICE beside the runs: ${BURNERS[*]}"

############################################################################ engine run
log "starting callrec serve (SIP 127.0.0.1:$SIP_PORT, trunk 127.0.0.1:$TRUNK_PORT)"
SERVE=("$WORK/bin/callrec" serve --demo --data "$WORK/data" --http "127.0.0.1:$HTTP_PORT"
	--sip "127.0.0.1:$SIP_PORT" --trunk "127.0.0.1:$TRUNK_PORT" --rtp-ports 20000-29999
	--calls-per-pool -1 --calls-per-customer -1 --sip-invite-rate -1 --sip-unanswered-per-source -1
	--metrics "127.0.0.1:$((HTTP_PORT + 2))" --log-level info)
CALLREC_ADMIN_PASSWORD=bench-admin-pw CALLREC_PPROF=${PROFILE:+127.0.0.1:$((HTTP_PORT + 1))} \
	"${SERVE[@]}" >"$WORK/serve.log" 2>&1 &
ENGINE=$!
PIDS+=("$ENGINE")
[ "$ENGINE_NICE" = 0 ] || renice_threads "$ENGINE_NICE" "$ENGINE"
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break
	sleep 0.2
done
curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null || { cat "$WORK/serve.log"; exit 1; }

TOKEN=$("$WORK/bin/callrec" apikey create --user demo-admin --data "$WORK/data")
api() { curl -fsS -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "http://127.0.0.1:$HTTP_PORT/api/v1$2" ${3:+-d "$3"}; }
POOL=$(api GET /pools | jq -r '.pools[0].id')
api PUT "/pools/$POOL/call-recording/booking" '{"legal_notice_accepted":true}' >/dev/null
api PATCH "/pools/$POOL/call-recording" '{"channels":"stereo","mode":"automatic","announcement":false}' >/dev/null
log "pool $POOL booked: stereo, automatic, no caller notice"

WHISPER=0
for f in "$WORK"/data/prompts/callee_whisper.*.wav; do
	w=$(soxi -D "$f" 2>/dev/null || echo 0)
	WHISPER=$(echo "if ($w > $WHISPER) $w else $WHISPER" | bc -l)
done
HOLD_MS=$(echo "($LEN + $WHISPER + 0.3) * 1000 / 1" | bc)
log "whisper ${WHISPER}s: callers hold ${HOLD_MS} ms for ${LEN} s connected"

fill "$WORK/src/media/testdata/sipp_callee.xml" "$WORK/sipp/callee.xml" PT=0 CODEC=PCMU "AUDIO=$WORK/callee.ulaw" ACTIONS= RING_MS=100
fill "$WORK/src/media/testdata/sipp_caller.xml" "$WORK/sipp/caller.xml" PT=0 CODEC=PCMU "AUDIO=$WORK/caller.ulaw" ACTIONS= \
	"HOLD_MS=$HOLD_MS" FROM=49711218431440
SIPP_COMMON=(-i 127.0.0.1 -mi 127.0.0.1 -nostdin -timeout "$((LEN * 3 + N / RATE + 120))s" -timeout_error -trace_err -trace_stat -fd 5)

sleep 1
IDLE_RSS=$(rss "$ENGINE")
(cd "$WORK/sipp" && exec sipp -sf callee.xml -p "$TRUNK_PORT" -mp 38000 -m "$N" "${SIPP_COMMON[@]}" >callee.out 2>&1) &
CALLEE=$!
PIDS+=("$CALLEE")
renice_all "$CALLEE"
sleep 0.5
T0=$(now)
(cd "$WORK/sipp" && exec sipp -sf caller.xml -p "$((SIP_PORT + 2))" -mp 32000 -s 49711218431431 -m "$N" -l "$N" \
	-r "$RATE" -rp 1000 "${SIPP_COMMON[@]}" "127.0.0.1:$SIP_PORT" >caller.out 2>&1) &
CALLER=$!
PIDS+=("$CALLER")
renice_all "$CALLER"
log "engine run: $N callers at $RATE/s, each ${LEN}s connected"

# Steady state: every call bridged (set-up time + whisper + slack) until the first hangs up.
FROM=$(echo "$T0 + $N / $RATE + $WHISPER + 4" | bc -l)
TO=$(echo "$T0 + $HOLD_MS / 1000 - 2" | bc -l)
[ "$KILL" = 0 ] || TO=$(echo "($FROM + $TO) / 2" | bc -l) # the window ends at the kill
if [ "$(echo "$TO - $FROM < 5" | bc -l)" = 1 ]; then
	echo "bench-engine: LEN=$LEN leaves no steady window for N=$N at RATE=$RATE (need LEN > N/RATE + 11)" >&2
	exit 1
fi
sleep_until "$FROM"
renice_all "$CALLER" "$CALLEE"
[ "$ENGINE_NICE" = 0 ] || renice_threads "$ENGINE_NICE" "$ENGINE"
CPU_A=$(cpu "$ENGINE"); TA=$(now); WAIT_A=$(waited "$ENGINE"); WCHAR_A=$(wchar "$ENGINE"); CS_A=$(switches "$ENGINE")
SIPP_A=$(( $(cpu "$CALLER") + $(cpu "$CALLEE") )); IDLE_A=$(awk '/^cpu /{print $5+$6}' /proc/stat)
if [ -n "${PROFILE:-}" ]; then
	curl -fsS -o "$WORK/cpu.pprof" "http://127.0.0.1:$((HTTP_PORT + 1))/debug/pprof/profile?seconds=$PROFILE" &
	PIDS+=($!)
fi
sleep_until "$(echo "($FROM + $TO) / 2" | bc -l)"
FULL_RSS=$(rss "$ENGINE")
if [ "$STALL" != 0 ] && [ "$KILL" = 0 ]; then
	log "SIGSTOP the engine for ${STALL}s"
	kill -STOP "$ENGINE"
	sleep "$STALL"
	kill -CONT "$ENGINE"
fi
FDS=$(ls /proc/"$ENGINE"/fd | wc -l)
sleep_until "$TO"
CPU_B=$(cpu "$ENGINE"); TB=$(now); WAIT_B=$(waited "$ENGINE"); WCHAR_B=$(wchar "$ENGINE"); CS_B=$(switches "$ENGINE")
SIPP_B=$(( $(cpu "$CALLER") + $(cpu "$CALLEE") )); IDLE_B=$(awk '/^cpu /{print $5+$6}' /proc/stat)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
PSI=$(psi)
log "steady window $(echo "$TB - $TA" | bc -l | cut -c1-5)s: engine CPU $(((CPU_B - CPU_A) * 1000 / hz)) ms, RSS ${FULL_RSS} KiB (idle ${IDLE_RSS}), ${FDS} fds, load $LOAD, CPU pressure $PSI%, engine threads waited $((WAIT_B - WAIT_A)) ms for a CPU"

if [ "$KILL" = 1 ]; then
	kill -KILL "$ENGINE"
	KILLED=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
	log "SIGKILL the engine with $N calls in flight"
	wait "$ENGINE" 2>/dev/null || true
	kill -KILL "$CALLER" "$CALLEE" 2>/dev/null || true
	CALLER_RC=0; wait "$CALLER" || CALLER_RC=$?
	CALLEE_RC=0; wait "$CALLEE" || CALLEE_RC=$?
	# The next start repairs every file the crash left open; stop it once it serves.
	START=$(now)
	CALLREC_ADMIN_PASSWORD=bench-admin-pw "${SERVE[@]}" >"$WORK/repair.log" 2>&1 &
	ENGINE=$!
	PIDS+=("$ENGINE")
	for _ in $(seq 600); do
		curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break
		sleep 0.1
	done
	REPAIR_S=$(echo "$(now) - $START" | bc -l | cut -c1-5)
	log "restarted and serving after ${REPAIR_S}s (the repair of $N files included)"
	kill -TERM "$ENGINE" 2>/dev/null || true
	wait "$ENGINE" 2>/dev/null || true
else
	CALLER_RC=0; wait "$CALLER" || CALLER_RC=$?
	CALLEE_RC=0; wait "$CALLEE" || CALLEE_RC=$?
fi
log "sipp caller exit $CALLER_RC, callee exit $CALLEE_RC"
DB="$WORK/data/callrec.db"
# The sink writes the last rows on its own goroutine: wait until no recording is open.
for _ in $(seq 120); do
	open=$(sqlite3 "$DB" "select count(*) from recordings where status = 'recording'" 2>/dev/null || echo 1)
	[ "$open" = 0 ] && break
	sleep 0.5
done
sleep 1
# After a kill the calls end at the kill: the file must hold what came up to it.
ENDED="coalesce(c.ended,'')"
[ "$KILL" = 0 ] || ENDED="'$KILLED'"
sqlite3 -csv "$DB" "select coalesce(r.path,''), coalesce(c.bridged,''), $ENDED, c.duration_ms, c.outcome,
	coalesce(r.status,''), coalesce(r.channels,0), c.arrival
	from calls c left join recordings r on r.call_id = c.id where c.b = '49711218431431'" >"$WORK/calls.csv"
CALLS_IN_DB=$(wc -l <"$WORK/calls.csv")
CHECK_RC=0
TOL=()
[ "$KILL" = 0 ] || TOL=("-len-tolerance=$KILL_TOLERANCE")
# The engine's "call ended" lines carry each recording's sender figures (info level): the
# checker puts the silences they account for down to the senders (sipp starved beside the
# engine) and counts only the others as gaps. After a kill the figures died with the process.
ELOG=()
[ "$KILL" != 0 ] || ELOG=("-engine-log=$WORK/serve.log")
CHECK=$("$WORK/bin/benchcheck" check "${TOL[@]}" "${ELOG[@]}" "$WORK/calls.csv" "$WORK/data" "$TA" "$TB") || CHECK_RC=$?
echo "$CHECK"
SETUP_RATE_RAW=$(sed -n 's/.*setup_rate=\([0-9.]*\).*/\1/p' <<<"$CHECK" | head -1)
SETUP_RATE_RAW=${SETUP_RATE_RAW:-0}
# What the engine's counters say of the audio the files lack: late (read after its place was
# written: the engine's), late_sender (reached the machine after its place was final), dropped
# (beyond the rings), kernel_dropped (full socket buffers). After a kill they died with it.
PKTS=n/a
if [ "$KILL" = 0 ]; then
	PKTS=$(curl -fsS "http://127.0.0.1:$((HTTP_PORT + 2))/metrics" 2>/dev/null |
		sed -n 's/^callrec_rtp_packets_total{result="\([a-z_]*\)"} \([0-9.e+]*\)$/\1 \2/p' | tr '\n' ' ' | sed 's/ $//') || PKTS=
	PKTS=${PKTS:-n/a}
fi
log "engine's packet counters: $PKTS"
kill "$ENGINE" 2>/dev/null || true
wait "$ENGINE" 2>/dev/null || true

############################################################################ relay baseline
RCPU_A=0; RCPU_B=0; RA=0; RB=1; RCALLER_RC=0
if [ "$KILL" = 0 ]; then
log "relay baseline: $N calls of ${RELAY_LEN}s through rtprelay"
fill "$WORK/src/scripts/bench/relay_callee.xml" "$WORK/sipp/relay_callee.xml" "AUDIO=$WORK/callee.ulaw"
RELAY_HOLD_MS=$((RELAY_LEN * 1000))
fill "$WORK/src/scripts/bench/relay_caller.xml" "$WORK/sipp/relay_caller.xml" "AUDIO=$WORK/caller.ulaw" "HOLD_MS=$RELAY_HOLD_MS" "BASE=$RELAY_BASE"
# The relay binds 2(N+1) fixed ports; another program on the machine may hold one of them:
# then the next block of ports.
for try in 0 1 2; do
	"$WORK/bin/rtprelay" -base "$RELAY_BASE" -calls "$((N + 1))" >"$WORK/relay.out" 2>&1 &
	RELAY=$!
	for _ in $(seq 50); do grep -qx ready "$WORK/relay.out" && break; kill -0 "$RELAY" 2>/dev/null || break; sleep 0.1; done
	grep -qx ready "$WORK/relay.out" && break
	log "relay: $(tail -1 "$WORK/relay.out"); trying other ports"
	wait "$RELAY" 2>/dev/null || true
	RELAY_BASE=$((RELAY_BASE + 4 * (N + 1) + 2))
	[ "$try" != 2 ] || { log "relay baseline: no free block of ports"; exit 1; }
done
fill "$WORK/src/scripts/bench/relay_caller.xml" "$WORK/sipp/relay_caller.xml" "AUDIO=$WORK/caller.ulaw" "HOLD_MS=$RELAY_HOLD_MS" "BASE=$RELAY_BASE"
PIDS+=("$RELAY")
[ "$ENGINE_NICE" = 0 ] || renice_threads "$ENGINE_NICE" "$RELAY"
(cd "$WORK/sipp" && exec sipp -sf relay_callee.xml -p "$RELAY_SIP_PORT" -mp 38000 -m "$N" "${SIPP_COMMON[@]}" >relay_callee.out 2>&1) &
RCALLEE=$!
PIDS+=("$RCALLEE")
renice_all "$RCALLEE"
sleep 0.5
R0=$(now)
(cd "$WORK/sipp" && exec sipp -sf relay_caller.xml -p "$((RELAY_SIP_PORT + 2))" -mp 32000 -s x -m "$N" -l "$N" \
	-r "$RATE" -rp 1000 "${SIPP_COMMON[@]}" "127.0.0.1:$RELAY_SIP_PORT" >relay_caller.out 2>&1) &
RCALLER=$!
PIDS+=("$RCALLER")
renice_all "$RCALLER"
RFROM=$(echo "$R0 + $N / $RATE + 3" | bc -l)
RTO=$(echo "$R0 + $RELAY_HOLD_MS / 1000 - 2" | bc -l)
sleep_until "$RFROM"
renice_all "$RCALLER" "$RCALLEE"
[ "$ENGINE_NICE" = 0 ] || renice_threads "$ENGINE_NICE" "$RELAY"
RCPU_A=$(cpu "$RELAY"); RA=$(now)
sleep_until "$RTO"
RCPU_B=$(cpu "$RELAY"); RB=$(now)
RCALLER_RC=0; wait "$RCALLER" || RCALLER_RC=$?
wait "$RCALLEE" || true
kill -TERM "$RELAY" 2>/dev/null || true
wait "$RELAY" 2>/dev/null || true
log "relay: $(tail -1 "$WORK/relay.out")"
fi

############################################################################ results
read -r ENGINE_MS RELAY_MS PER_CS PER_CORE MEM_KB RATIO SETUP_RATE < <(python3 - <<EOF
hz=$hz; n=$N
ecpu=($CPU_B-$CPU_A)/hz; ewin=$TB-$TA
rcpu=($RCPU_B-$RCPU_A)/hz; rwin=$RB-$RA
per_cs=ecpu/(n*ewin)*1000          # ms CPU per call-second
relay_cs=rcpu/(n*rwin)*1000
per_core=1000/per_cs if per_cs>0 else 0
mem=($FULL_RSS-$IDLE_RSS)/n
rate=$SETUP_RATE_RAW
print(f"{ecpu*1000:.0f} {rcpu*1000:.0f} {per_cs:.3f} {per_core:.0f} {mem:.0f} {per_cs/relay_cs if relay_cs>0 else 0:.2f} {rate:.1f}")
EOF
)
RELAY_PER_CS=$(python3 -c "print(f'{($RCPU_B-$RCPU_A)/$hz/($N*($RB-$RA))*1000:.3f}')")
FILES=$(sed -n 's/.* files=\([0-9]*\).*/\1/p' <<<"$CHECK" | head -1)
GAPS=$(sed -n 's/.* gaps=\([0-9]*\).*/\1/p' <<<"$CHECK" | head -1)
WHERE=$(sed -n 's/.* silences_start_middle_end=\([0-9/]*\).*/\1/p' <<<"$CHECK" | head -1)
[ -z "$WHERE" ] || [ "$GAPS" = 0 ] || GAPS="$GAPS (silences at start/middle/end $WHERE)"
ATTRIBUTED=$(sed -n 's/.* attributed=\([0-9]*\).*/\1/p' <<<"$CHECK" | head -1)
if [ -n "$ATTRIBUTED" ] && [ "$ATTRIBUTED" != 0 ]; then
	SENDER=$(sed -n 's/.* sender_silences=\([0-9]*\) sender_start_middle_end=\([0-9/]*\) sender_files=\([0-9]*\).*/\1 silences in \3 files, at start\/middle\/end \2/p' <<<"$CHECK" | head -1)
	GAPS="$GAPS engine-caused; the senders' own: $SENDER (figures for $ATTRIBUTED files)"
fi
BAD=$(sed -n 's/.* bad=\([0-9]*\).*/\1/p' <<<"$CHECK" | head -1)
THROUGHOUT=$(sed -n 's/.*connected_throughout_window=\([0-9]*\).*/\1/p' <<<"$CHECK" | head -1)
RELAY_NOTE=""
if [ "$KILL" = 1 ]; then
	RELAY_NOTE=" (no relay run: KILL=1; files against bridge..kill within $KILL_TOLERANCE, restart with repair ${REPAIR_S}s)"
elif [ "$RCALLER_RC" != 0 ] || [ "$RCPU_B" = "$RCPU_A" ]; then
	RELAY_NOTE=" (relay run failed: sipp exit $RCALLER_RC, $(tail -1 "$WORK/relay.out"))"
	log "relay baseline failed:$RELAY_NOTE"
fi
MACHINE="$(nproc) vCPU $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"

cat <<EOF

engine under load: N=$N LEN=${LEN}s RATE=$RATE/s ENGINE_NICE=$ENGINE_NICE SIPP_NICE=$SIPP_NICE autogroup $AUTOGROUP STALL=$STALL BURN=$BURN KILL=$KILL ($MACHINE, load average before $LOAD_BEFORE, at the end of the window $LOAD)
  CPU pressure (PSI some avg10) $PSI%; engine threads waited $((WAIT_B - WAIT_A)) ms for a CPU in the window
  sipp (caller+callee) CPU    $(((SIPP_B - SIPP_A) * 1000 / hz)) ms in the window; machine idle $(((IDLE_B - IDLE_A) * 1000 / hz)) ms of $(nproc) CPUs
  calls in DB                 $CALLS_IN_DB (sipp caller exit $CALLER_RC, callee exit $CALLEE_RC)
  connected throughout window $THROUGHOUT of $N
  engine CPU in window        ${ENGINE_MS} ms over $(echo "$TB - $TA" | bc -l | cut -c1-5) s
  engine writes, switches     $(python3 -c "print(f'{($WCHAR_B-$WCHAR_A)/($N*($TB-$TA)):.0f} bytes written per call-second (stereo audio is 32000), {($CS_B-$CS_A)/($TB-$TA):.0f} context switches a second')")
  CPU per call-second         $PER_CS ms  -> $PER_CORE calls per core
  RSS per call                $MEM_KB KiB (idle $IDLE_RSS KiB, full $FULL_RSS KiB)
  set-up rate                 $SETUP_RATE calls/s (first to last arrival; sipp offered $RATE/s)
  files checked               $FILES, bad $BAD, with gaps $GAPS (checker exit $CHECK_RC)
  engine's packet counters    $PKTS
  relay CPU per call-second   $RELAY_PER_CS ms; engine/relay $RATIO$RELAY_NOTE
EOF

if [ "${NO_ROW:-0}" != 1 ]; then
	ROW="| $(date -u +%F) | $COMMIT | $MACHINE, load $LOAD_BEFORE before, $LOAD in the window, PSI cpu $PSI%, engine and relay nice $ENGINE_NICE, sipp nice $SIPP_NICE, session autogroup $AUTOGROUP$( [ "$STALL" = 0 ] || echo ", **STALL=$STALL** (SIGSTOP ${STALL} s)")$( [ "$BURN" = 0 ] || echo ", **BURN=$BURN** (busy loops at nice $ENGINE_NICE)")$( [ "$KILL" = 0 ] || echo ", **KILL=1** (SIGKILL with $N calls in flight)")$( [ -z "${GOGC:-}" ] || echo ", GOGC=$GOGC") | $N | $LEN s | $PER_CS ms | $PER_CORE | $MEM_KB KiB | $SETUP_RATE/s | $FILES ($BAD bad) | $GAPS; packets $PKTS | $RATIO ($RELAY_PER_CS ms)$RELAY_NOTE |"
	if ! grep -q '^## Engine under load' BENCHMARKS.md; then
		cat >>BENCHMARKS.md <<'EOF'

## Engine under load

`make bench-engine` (scripts/bench-engine.sh; `N=… LEN=…`): the real `callrec serve --demo`
binary, pool booked via the API (stereo, automatic, caller notice off, whisper on), sipp
callers and a sipp callee on loopback sending a never-silent speech-like signal (20 ms PCMU,
looped) both ways. CPU = utime+stime of the callrec process (/proc/PID/stat) over the window in
which all N calls are connected, per call-second; memory = VmRSS growth idle -> full load, per
call; every file checked by cmd/benchcheck against the calls table (length = bridged..ended
+-40 ms, no silence run > 60 ms in either channel, channels start/end together). Relay =
cmd/rtprelay forwarding the same sipp load (no decoding, no recording).

| date | commit | machine | N | length | CPU per call-second | calls per core | RSS per call | set-ups | files checked | gaps | engine/relay CPU (relay per call-s) |
|---|---|---|---|---|---|---|---|---|---|---|---|
EOF
	fi
	python3 - "$ROW" <<'EOF'
import sys, re
row = sys.argv[1]
s = open("BENCHMARKS.md").read()
i = s.index("## Engine under load")
j = s.find("\n## ", i + 1)
sec = s[i:] if j < 0 else s[i:j]
lines = sec.rstrip("\n").split("\n")
last = next(k for k, l in enumerate(lines) if l.startswith("| date | commit")) + 1
while last + 1 < len(lines) and lines[last + 1].startswith("|"):
    last += 1  # the end of the results table (notes below may hold tables of their own)
lines.insert(last + 1, row)
new = "\n".join(lines) + "\n"
s = s[:i] + new + ("" if j < 0 else s[j:])
open("BENCHMARKS.md", "w").write(s)
EOF
	log "row added to BENCHMARKS.md"
fi
exit "$CHECK_RC"
