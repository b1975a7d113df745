#!/usr/bin/env bash
# Crash test of tapegrad-train: kill -9 at random moments, resume, and end with the same files as
# an uninterrupted run.
#
#   scripts/crash-test.sh [BINARY [SEED]]      BINARY: build/examples/tapegrad-train (make builds it)
#   CRASH_KILLS=20                             how many kills (at least 10 is the point)
#
# 1. The reference: a small run (parity_check, LSTM H=64, 500 steps, a checkpoint every 20 steps,
#    1 thread) from start to end, timed.
# 2. The same run in a fresh folder, started again and again: each attempt resumes from the
#    folder's checkpoint (when there is one) and gets SIGKILL after a random delay of 0..40% of the
#    reference's time, so kills land in start-up, training, checkpoint writes, the evaluation and
#    the final writes (an attempt that finishes before its kill just resumes at the last step next
#    time). After every kill the checkpoint must be a whole safetensors file with an integer step;
#    every attempt that resumes must load it. After CRASH_KILLS kills (or 45 s of them) one last
#    attempt runs to the end; fewer than 10 kills is a FAIL.
# 3. The killed run's files must equal the reference's: checkpoint.safetensors and lengths.csv byte
#    for byte; log.csv without its timing columns (tokens_per_s, elapsed_s); summary.json without its
#    timing fields (train_seconds, tokens_per_second, seconds_per_epoch) and the command line (which
#    has --resume). No *.tmp.* file may be left.
#
# The delays come from bash's $RANDOM seeded with SEED (printed; pass it to reproduce a failure).
# Prints the number of kills and PASS or FAIL; exits 1 on FAIL. 15-35 s on a shared 2-core machine.
set -uo pipefail

binary=${1:-build/examples/tapegrad-train}
seed=${2:-$(( ($$ + $(date +%s)) % 32768 ))}
kills_wanted=${CRASH_KILLS:-20}
kill_phase_s=45  # the bound on the killing (with the reference and the checks, about 60 s at most)
[ -x "$binary" ] || { echo "crash-test: $binary is not an executable (build it with: make $binary)"; exit 2; }
command -v python3 > /dev/null || { echo "crash-test: needs python3 (to compare summary.json)"; exit 2; }

echo "crash-test: seed $seed (rerun: $0 $binary $seed), $kills_wanted kills"
RANDOM=$seed
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TAPEGRAD_NUM_THREADS=1
run_args=(--task parity_check --model lstm --hidden 64 --batch-size 32 --max-train-length 30 --steps 500
          --min-test-length 31 --max-test-length 34 --test-batches 1 --test-batch-size 8
          --log-every 10 --checkpoint-every 20 --progress lines)
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# 1. The reference.
start=$(now_ms)
if ! timeout 30 "$binary" "${run_args[@]}" --out "$work/reference" > "$work/reference.txt" 2>&1; then
    tail -5 "$work/reference.txt"; echo "crash-test: the reference run failed"; echo "FAIL"; exit 1
fi
reference_ms=$(( $(now_ms) - start ))
max_delay_ms=$(( reference_ms * 4 / 10 + 1 ))
echo "crash-test: reference run $reference_ms ms; kill delays 0..$max_delay_ms ms"

# A whole safetensors file: an 8-byte header length, a JSON header whose tensors fill the rest
# exactly, and an integer "step" in its metadata (what a resume reads first).
checkpoint_is_whole() {
    python3 - "$1" <<'EOF'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
meta = header.pop("__metadata__")
assert meta["step"].isdigit(), meta["step"]
end = max(t["data_offsets"][1] for t in header.values())
assert 8 + n + end == len(data), (8 + n + end, len(data))
EOF
}

# One attempt in $work/killed: resumes when there is a checkpoint. With a delay >= 0 it gets
# SIGKILL after that many ms (unless it has finished by then); without, it runs to its end.
# Sets attempt_rc (137: killed).
attempt() {
    local delay_ms=$1 resume=()
    [ -f "$work/killed/checkpoint.safetensors" ] && resume=(--resume "$work/killed/checkpoint.safetensors")
    local trainer=("$binary" "${run_args[@]}" --out "$work/killed" "${resume[@]}")
    if [ "$delay_ms" -ge 0 ]; then
        "${trainer[@]}" > "$work/attempt.txt" 2>&1 &
        local pid=$!
        sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
        kill -KILL "$pid" 2> /dev/null  # not yet reaped, so still this process even if it has exited
        wait "$pid" 2> /dev/null  # (no "Killed" line from bash)
    else
        timeout 30 "${trainer[@]}" > "$work/attempt.txt" 2>&1
    fi
    attempt_rc=$?
    if [ ${#resume[@]} -gt 0 ] && grep -q "resumed from" "$work/attempt.txt"; then resumes=$((resumes + 1)); fi
}

# 2. Killed again and again.
kills=0 finished_early=0 resumes=0
start=$(now_ms)
while [ "$kills" -lt "$kills_wanted" ]; do
    if [ $(( $(now_ms) - start )) -gt $(( kill_phase_s * 1000 )) ]; then
        echo "crash-test: $kill_phase_s s of kills spent (a slow machine): no more kills"; break
    fi
    delay_ms=$(( (RANDOM * 32768 + RANDOM) % max_delay_ms ))
    attempt "$delay_ms"
    case $attempt_rc in
        137) kills=$((kills + 1))
             step=$(grep -ao '"step":"[0-9]*"' "$work/killed/checkpoint.safetensors" 2> /dev/null | head -1 | tr -dc 0-9)
             echo "  kill $kills after $delay_ms ms: checkpoint at step ${step:-(none yet)}"
             if [ -f "$work/killed/checkpoint.safetensors" ] && ! checkpoint_is_whole "$work/killed/checkpoint.safetensors"; then
                 fail "after kill $kills the checkpoint is not a whole safetensors file"; break
             fi
             if [ -f "$work/killed/log.csv" ] && [ "$(head -1 "$work/killed/log.csv")" != "$(head -1 "$work/reference/log.csv")" ]; then
                 fail "after kill $kills log.csv does not start with its header"; break
             fi ;;
        0) finished_early=$((finished_early + 1)) ;;
        *) tail -5 "$work/attempt.txt"; fail "an attempt after $kills kills exited with $attempt_rc"; break ;;
    esac
done
if [ "$failed" -eq 0 ]; then
    attempt -1
    [ "$attempt_rc" -eq 0 ] || { tail -5 "$work/attempt.txt"; fail "the last attempt exited with $attempt_rc"; }
fi
echo "crash-test: $kills kills ($resumes attempts loaded a checkpoint, $finished_early finished before their kill) in $(( $(now_ms) - start )) ms"

# 3. The same files as the reference.
if [ "$failed" -eq 0 ]; then
    for file in checkpoint.safetensors lengths.csv; do
        cmp -s "$work/reference/$file" "$work/killed/$file" || fail "$file differs from the uninterrupted run's"
    done
    without_timings() { cut -d, -f1-6 "$1"; }
    diff <(without_timings "$work/reference/log.csv") <(without_timings "$work/killed/log.csv") > "$work/log.diff" ||
        { head -10 "$work/log.diff"; fail "log.csv differs from the uninterrupted run's"; }
    python3 - "$work/reference/summary.json" "$work/killed/summary.json" <<'EOF' || fail "summary.json differs from the uninterrupted run's"
import json, sys
timing = {"command", "train_seconds", "tokens_per_second", "seconds_per_epoch"}
a, b = ({k: v for k, v in json.load(open(p)).items() if k not in timing} for p in sys.argv[1:])
for key in sorted(set(a) | set(b)):
    if a.get(key) != b.get(key):
        print(f"summary.json: {key} is {b.get(key)!r}, the uninterrupted run has {a.get(key)!r}")
sys.exit(a != b)
EOF
    leftovers=$(find "$work/killed" -name '*.tmp.*')
    [ -z "$leftovers" ] || fail "temporary files left: $leftovers"
fi

if [ "$failed" -eq 0 ] && [ "$kills" -ge 10 ]; then echo "crash-test: PASS ($kills kills)"; exit 0; fi
echo "crash-test: FAIL ($kills kills, seed $seed)"
exit 1
