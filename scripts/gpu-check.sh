#!/usr/bin/env bash
# The GPU check: one command, run on a lent GPU machine from the repository root with the pack that
# scripts/gpu-pack.sh made here (gpu-carry/pack.tar.xz) carried along (docs/GPU.md, "Checking a
# GPU machine"). It needs none of this project's packages there, ends within 8 minutes (each part
# has its own time limit) and writes everything under $OUT (default gpu-check-out/):
#
#   scripts/gpu-check.sh              on the GPU machine
#   scripts/gpu-check.sh --dry-run    here, on the host emulation (gpu-carry/pack-emu.tar.xz from
#                                     scripts/gpu-pack.sh --emulation): every part with reduced
#                                     sizes and steps, the time limits raised (the emulation is
#                                     about 1000x slower than a GPU), compute-sanitizer reported
#                                     unavailable, the learning run's threshold reported, not applied
#   --pack FILE                       another pack
#
# The parts, each one line of summary.txt (PASS, FAIL or SKIP, what it found, its seconds), run in
# the order environment, tests, bench, then the sanitizers beside the training runs:
#   environment   GPU, driver and the CUDA version it supports, the CUDA runtime and cuBLAS the
#                 binaries load, every binary's libraries resolved (ldd), the CPU, the pack's
#                 manifest; FAIL if a library is missing or the runtime sees no device
#   tests         every suite of the pack through scripts/run-tests.sh (the GPU suites first; the
#                 CPU suites meanwhile on other cores); FAIL on a failed case, and if test_cuda or
#                 test_cuda_large is missing or skipped a case (a driver older than the toolkit
#                 makes the runtime see no device: every GPU case then reports itself skipped).
#                 The skips expected: test_devices' no-GPU case, skipped where a device exists,
#                 and, on a machine with one GPU, the cases that need two ("needs 2 CUDA devices")
#   memcheck      compute-sanitizer --tool memcheck on test_cuda's op cases (--run_test=op_table),
#                 TAPEGRAD_CUDA_DEBUG=1: exact-size blocks, so an overrun leaves its allocation
#   initcheck     compute-sanitizer --tool initcheck on the same cases, without TAPEGRAD_CUDA_DEBUG
#                 (its NaN fill of every block is a cudaMemset, which initcheck counts as writing
#                 it); SKIP for both, saying why, where compute-sanitizer is missing or refused
#   bench         bench_cuda: its exit status and its budget lines (PASS, FAIL/MISS); FAIL too if
#                 it ran on no device, or on the emulation outside a dry run
#   train-match   tapegrad-train --device cpu and --device cuda, same seed, 10 steps, for LSTM,
#                 QL-LSTM, PR-LSTM and a 2-block Transformer (dropout: the same Philox mask on both
#                 devices): each step's loss in log.csv within 2e-5 at step 1 (one forward, same
#                 weights) and 1e-3 after (float32 sums in another order, compounded by Adam)
#   train-learns  PR-LSTM on parity_check on the GPU, reduced protocol, 1,000 steps, tested on
#                 lengths 41..60: its score (mean test accuracy) must reach 0.9
#   train-resume  a 1-block Transformer with dropout on the GPU, 40 steps against 20 + 20 resumed:
#                 the checkpoints must be identical; where they are not, a second uninterrupted run
#                 says whether the GPU's own run-to-run differences explain it (atomicAdd reductions)
#
# Files under $OUT (the device tool brings back 8 at most): summary.txt, one log per part
# (environment.txt, tests.txt, sanitizer.txt, bench.txt, train.txt) and logs.tar.xz (the sanitizer's
# whole output, the training runs' folders). Exit status 1 if any part FAILed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
repo=$(pwd)

dry_run=0 pack=
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --pack) pack=${2:?--pack needs a file}; shift ;;
        -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$pack" ]; then
    if [ "$dry_run" = 1 ]; then pack=gpu-carry/pack-emu.tar.xz; else pack=gpu-carry/pack.tar.xz; fi
fi
out=${OUT:-gpu-check-out}
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 2
rm -f "$out"/summary.txt "$out"/environment.txt "$out"/tests.txt "$out"/sanitizer.txt "$out"/bench.txt \
      "$out"/train.txt "$out"/logs.tar.xz
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
logs=$work/logs
mkdir -p "$logs"
start_s=$SECONDS failed=0

# Time limits (seconds) of each part. The parts run in this order: environment, tests, bench, then
# the sanitizers beside the training runs.
if [ "$dry_run" = 1 ]; then
    t_small=120 t_gpu_suites=2400 t_cpu_suites=2400 t_sanitizer=0 t_run=1200 t_bench=1200
    match_steps=3 match_size=(--batch-size 4 --max-train-length 6 --hidden 16 --d-model 16 --heads 2)
    learn_args=(--steps 30 --batch-size 8 --max-train-length 8 --hidden 16 --min-test-length 9 --max-test-length 10
                --test-batches 1 --test-batch-size 8 --log-every 10)
    resume_steps=4 resume_size=(--batch-size 4 --max-train-length 6 --d-model 16 --heads 2)
    bench_args=(--quick)
    # 256 MiB emulated devices, as make test-cuda-emu: test_cuda's out-of-memory case fills 60% of
    # the device, which takes minutes at the emulation's default of 2 GiB.
    export TAPEGRAD_EMU_MEMORY=${TAPEGRAD_EMU_MEMORY:-268435456}
else
    t_small=15 t_gpu_suites=180 t_cpu_suites=170 t_sanitizer=120 t_run=90 t_bench=100
    match_steps=10 match_size=(--batch-size 32 --max-train-length 20)
    learn_args=(--protocol reduced --steps 1000 --max-test-length 60 --log-every 250)
    resume_steps=40 resume_size=()
    bench_args=()
fi
# Every part's limit is cut to what is left of the whole check's (7 min 50 s on the GPU).
deadline=$((SECONDS + (dry_run ? 14400 : 470)))
limit() {
    local seconds=$1 left=$((deadline - SECONDS))
    shift
    [ "$left" -ge "$seconds" ] || seconds=$((left > 1 ? left : 1))
    timeout --kill-after=5 "$seconds" "$@"
}
# taskset where the machine lets a process choose its cores (a sandbox may not).
can_pin=0
taskset -c 0 true 2> /dev/null && can_pin=1
pin() { [ "$can_pin" = 0 ] || echo "taskset -c $1"; }
# The problems found, one sentence: "a; b; c".
joined() { local IFS=';' all; all="$*"; echo "${all//;/; }"; }
# The last line of a program's output that is not its CPU banner: its error, where it failed.
last_words() { grep -h -v '^CPU:' "$@" 2> /dev/null | grep . | tail -n 1; }
timed_out() { [ "$1" -eq 124 ] || [ "$1" -eq 137 ]; }

# One line of summary.txt: part, PASS/FAIL/SKIP, what it found; seconds since the part began.
part_start=$SECONDS
begin() { part_start=$SECONDS; echo "== $1 ($(date +%T))"; }
record() {
    local line
    line=$(printf '%-4s  %-12s  %s (%d s)' "$2" "$1" "$3" $((SECONDS - part_start)))
    echo "$line" >> "$out/summary.txt"
    echo "$line"
    [ "$2" != FAIL ] || failed=1
}

# ---- the pack ---------------------------------------------------------------------------------
if [ ! -f "$pack" ]; then
    echo "FAIL  pack          $pack is missing: make it here with scripts/gpu-pack.sh$([ "$dry_run" = 1 ] && echo ' --emulation') and carry it" |
        tee "$out/summary.txt"
    exit 1
fi
tar -xJf "$pack" -C "$work" || { echo "FAIL  pack          $pack does not unpack" | tee "$out/summary.txt"; exit 1; }
g=$work/tapegrad-pack
export LD_LIBRARY_PATH=$g/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
binaries=("$g"/tests/* "$g"/bench/* "$g"/examples/*)
train=$g/examples/tapegrad-train
emulation_pack=0
grep -q "emulation" "$g/PACK.txt" && emulation_pack=1
cores=$(nproc)

# ---- environment -----------------------------------------------------------------------------
begin environment
problems=()
{
    echo "== the pack ($pack)"
    cat "$g/PACK.txt"
    echo
    echo "== the machine"
    uname -srm
    sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release 2> /dev/null
    lscpu 2> /dev/null | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|Socket\(s\))'
    echo "memory: $(free -g 2> /dev/null | awk '/^Mem:/ {print $2 " GiB"}')"
    echo
    echo "== the GPU (nvidia-smi)"
    if command -v nvidia-smi > /dev/null; then
        limit "$t_small" nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv 2>&1
        limit "$t_small" nvidia-smi 2>&1 | grep -m1 "CUDA Version"
    else
        echo "no nvidia-smi on PATH"
    fi
    echo
    echo "== the CUDA runtime and cuBLAS the binaries load"
    ldd "$g/tests/test_cuda" | grep -E "libcuda|libcublas" | sed 's/ (0x[0-9a-f]*)//' | while read -r line; do
        path=${line#*=> }
        echo "$line$([ -e "$path" ] && echo " -> $(readlink -f "$path")")"
    done
    echo
    echo "== GPU code in test_cuda (cuobjdump)"
    if command -v cuobjdump > /dev/null; then
        limit "$t_small" cuobjdump --list-elf --list-ptx "$g/tests/test_cuda" 2>&1 | sed 's/.*\.\(sm_[0-9a-z]*\)\..*/ELF \1/; s/.*\.\(compute_[0-9a-z]*\)\..*/PTX \1/' | sort | uniq -c
    else
        echo "no cuobjdump on PATH"
    fi
    echo
    echo "== the runtime's view (test_devices)"
    limit "$t_small" "$g/tests/test_devices" --run_test=device_queries_answer_without_a_gpu --log_level=message \
        --color_output=no 2>&1 | grep -i -E "devices|error"
    echo "tapegrad-train --device cuda --steps 0: $(limit "$t_small" "$train" --device cuda --steps 0 --no-eval --progress lines \
        --out "$work/probe" 2>&1 | grep -m1 -i -E "cuda|error" || echo "no error")"
    echo
    echo "== every binary's shared libraries (ldd; LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"
    for b in "${binaries[@]}"; do
        echo "-- ${b#"$g"/}"
        ldd "$b" 2>&1 | sed 's/ (0x[0-9a-f]*)//'
    done
} > "$out/environment.txt" 2>&1
grep -q "not found" "$out/environment.txt" &&
    problems+=("libraries not found: $(grep "not found" "$out/environment.txt" | awk '{print $1}' | sort -u | tr '\n' ' ')")
runtime_error=$(sed -n 's/^tapegrad-train --device cuda --steps 0: .*no CUDA device is available (\(.*\)).*/\1/p' "$out/environment.txt")
devices=$(sed -n 's/.*CUDA devices: \([0-9]*\).*/\1/p' "$out/environment.txt" | head -1)
gpu_name=$(sed -n '/^name, driver_version/{n;p}' "$out/environment.txt" | head -1)
driver_cuda=$(sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' "$out/environment.txt" | head -1)
toolkit_cuda=$(sed -n 's/^nvcc: *release \([0-9.]*\),.*/\1/p' "$g/PACK.txt")
[ "${devices:-0}" -ge 1 ] ||
    problems+=("the CUDA runtime sees no device (${runtime_error:+$runtime_error; }driver supports CUDA ${driver_cuda:-?}, the pack was built with ${toolkit_cuda:-?}$(
        [ -n "$driver_cuda" ] && [ -n "$toolkit_cuda" ] &&
            [ "$(printf '%s\n%s\n' "$driver_cuda" "$toolkit_cuda" | sort -V | head -1)" != "$toolkit_cuda" ] &&
            echo ': the driver is older than the toolkit'))")
if [ "$dry_run" = 0 ] && [ "$emulation_pack" = 1 ]; then problems+=("this is the emulation's pack: make one with scripts/gpu-pack.sh"); fi
if [ "$dry_run" = 1 ] && [ "$emulation_pack" = 0 ]; then problems+=("a dry run needs the emulation's pack (scripts/gpu-pack.sh --emulation)"); fi
cudart=$(sed -n 's/^libcudart[^ ]* => .* -> .*\/\(libcudart[^/]*\)$/\1/p' "$out/environment.txt" | head -1)
found="${gpu_name:-no nvidia-smi}; driver CUDA ${driver_cuda:-?}, pack CUDA ${toolkit_cuda:-none}, runtime ${cudart:-none found}; ${devices:-0} device(s) seen by the runtime; ${#binaries[@]} binaries; $(lscpu 2> /dev/null | sed -n 's/^Model name: *//p' | head -1), $cores cores"
if [ ${#problems[@]} -eq 0 ]; then record environment PASS "$found"; else record environment FAIL "$found: $(joined "${problems[@]}")"; fi

# ---- tests -------------------------------------------------------------------------------------
begin tests
gpu_suites=() cpu_suites=()
for suite in "$g"/tests/*; do
    case "$(basename "$suite")" in
        test_cuda | test_cuda_large | test_devices) gpu_suites+=("$suite") ;;
        *) cpu_suites+=("$suite") ;;
    esac
done
# The CPU suites on the upper half of the cores while the GPU suites run on the lower half.
half=$((cores / 2 > 0 ? cores / 2 : 1))
cpu_set=$([ "$cores" -ge 2 ] && echo "$half-$((cores - 1))" || echo 0)
(
    export TAPEGRAD_NUM_THREADS=$(((cores - half) > 0 ? cores - half : 1))
    # shellcheck disable=SC2046  # pin's words are meant to split
    limit "$t_cpu_suites" $(pin "$cpu_set") scripts/run-tests.sh "${cpu_suites[@]}" > "$work/tests-cpu.txt" 2>&1
) &
cpu_pid=$!
# shellcheck disable=SC2046
TAPEGRAD_NUM_THREADS=$half limit "$t_gpu_suites" $(pin "0-$((half - 1))") scripts/run-tests.sh "${gpu_suites[@]}" > "$work/tests-gpu.txt" 2>&1
gpu_status=$?
gpu_s=$((SECONDS - part_start))
wait "$cpu_pid"
cpu_status=$?
cat "$work/tests-gpu.txt" "$work/tests-cpu.txt" > "$out/tests.txt"
# Per suite: skipped cases (Boost.Test's short report: "  2 test cases out of 40 skipped").
skips=$(awk '/^== / {suite = $2; sub(/.*\//, "", suite)} /test cases? out of [0-9]+ skipped/ {print suite, $1}' "$out/tests.txt")
sum_tests() { sed -n "s/^tests: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped/\1 \2 \3/p" "$@" | awk '{p += $1; f += $2; s += $3} END {print p + 0, f + 0, s + 0}'; }
read -r passed failed_cases skipped < <(sum_tests "$work/tests-gpu.txt" "$work/tests-cpu.txt")
# Each skipped case or suite with its reason: "test_cuda/NAME: needs two CUDA devices (...)".
skipped_units=$(awk '/^== / {suite = $2; sub(/.*\//, "", suite)}
    / is skipped because / {line = $0; sub(/^.*Test (case|suite) "/, "", line); name = line; sub(/".*/, "", name)
                            reason = line; sub(/^[^"]*" is skipped because (precondition failed: )?/, "", reason)
                            print suite "/" name ": " reason}' "$out/tests.txt")
# The skips expected where a device is present: test_devices' no-GPU case, and on a machine with
# one device the GPU suites' cases that need two (their precondition, tests/gpu_available.h, says
# "needs 2 CUDA devices"). Any other skip in the GPU suites means GPU cases did not run.
expected_skips='^test_devices/cuda_tensor_without_device_is_a_clear_error:'
[ "${devices:-0}" -ge 2 ] || expected_skips+='|^test_cuda[a-z_]*/[A-Za-z0-9_]*: needs 2 CUDA devices'
problems=()
for name in test_cuda test_cuda_large; do
    [ -x "$g/tests/$name" ] || { problems+=("tests/$name is not in the pack"); continue; }
    n=$(awk -v s="$name" '$1 == s {print $2}' <<< "$skips")
    allowed=$(grep -c -E "$expected_skips" <<< "$(grep "^$name/" <<< "$skipped_units")")
    unexpected=$(grep "^$name/" <<< "$skipped_units" | grep -v -E "$expected_skips" | head -3 | tr '\n' ';')
    if [ "${n:-0}" -gt "$allowed" ]; then
        problems+=("$name skipped ${n} case(s), $allowed of them expected: GPU cases did not run (${unexpected:-see tests.txt})")
    fi
done
timed_out "$gpu_status" && problems+=("the GPU suites timed out (limit ${t_gpu_suites} s, or the whole check's)")
timed_out "$cpu_status" && problems+=("the CPU suites timed out (limit ${t_cpu_suites} s, or the whole check's)")
[ "$gpu_status" -eq 0 ] && [ "$cpu_status" -eq 0 ] || problems+=("$failed_cases case(s) failed")
found="$(( ${#gpu_suites[@]} + ${#cpu_suites[@]} )) suites: $passed passed, $failed_cases failed, $skipped skipped$(
    [ -n "$skips" ] && echo " ($(tr '\n' ',' <<< "$skips" | sed 's/,$//; s/,/, /g'): $(cut -d: -f1 <<< "$skipped_units" | head -5 | tr '\n' ' ' | sed 's/ $//'))"); GPU suites ${gpu_s} s"
if [ ${#problems[@]} -eq 0 ]; then record tests PASS "$found"; else record tests FAIL "$found: $(joined "${problems[@]}")"; fi

# ---- bench_cuda, alone on the machine ----------------------------------------------------------
begin bench
if [ "$dry_run" = 1 ] && ! "$g/bench/bench_cuda" --help 2>&1 | grep -q -e "--quick"; then
    "$g/bench/bench_cuda" --help > "$out/bench.txt" 2>&1
    record bench SKIP "this bench_cuda has no --quick, and its full sizes would take hours on the emulation"
    bench_status=skipped
else
    limit "$t_bench" "$g/bench/bench_cuda" "${bench_args[@]}" > "$out/bench.txt" 2>&1
    bench_status=$?
fi
name=$(sed -n 's/^GPU: //p' "$out/bench.txt" | head -1)
# Budget lines end "PASS (0.82 >= 0.70)" or "FAIL (0.59 < 0.70)" (MISS in older builds); on the
# emulation a FAIL says "(not enforced: emulation)".
pass_lines=$(grep -c -w "PASS" "$out/bench.txt")
fail_lines=$(grep -w -E "FAIL|MISS" "$out/bench.txt" | grep -v "not enforced")
unenforced=$(grep -c "not enforced" "$out/bench.txt")
found="bench_cuda${bench_args[*]:+ ${bench_args[*]}} on ${name:-no device}: $pass_lines budget(s) met, $(grep -c . <<< "$fail_lines") missed$(
    [ "$unenforced" -eq 0 ] || echo ", $unenforced missed but not enforced (emulation)")"
if [ "$bench_status" = skipped ]; then
    :
elif grep -q "no CUDA device available" "$out/bench.txt"; then
    record bench FAIL "bench_cuda found no CUDA device"
elif timed_out "$bench_status"; then
    record bench FAIL "$found: timed out (limit ${t_bench} s, or the whole check's)"
elif [ "$dry_run" = 0 ] && [[ "$name" == *emulation* ]]; then
    record bench FAIL "$found: that is the emulation, not a GPU"
elif [ "$dry_run" = 1 ] && [[ "$name" != *emulation* ]]; then
    record bench FAIL "$found: a dry run must run on the emulation"
elif [ "$bench_status" -ne 0 ] || [ -n "$fail_lines" ] || [ $((pass_lines + unenforced)) -eq 0 ]; then
    record bench FAIL "$found (exit $bench_status): $(tr -s ' ' <<< "$fail_lines" | tr '\n' ';')"
else
    record bench PASS "$found"
fi

# ---- compute-sanitizer (in the background, beside the training runs) --------------------------
sanitizer=
for candidate in "${COMPUTE_SANITIZER:-}" "$(command -v compute-sanitizer 2> /dev/null)" /usr/local/cuda/bin/compute-sanitizer \
                 /usr/local/cuda/compute-sanitizer/compute-sanitizer "$g/sanitizer/compute-sanitizer"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && limit "$t_small" "$candidate" --version > /dev/null 2>&1; then
        sanitizer=$candidate
        break
    fi
done
sanitizer_start=$SECONDS
sanitize() {  # tool, then the environment's assignments
    local tool=$1
    shift
    limit "$t_sanitizer" env "$@" TAPEGRAD_NUM_THREADS=2 "$sanitizer" --tool "$tool" --error-exitcode 99 --print-limit 30 \
        "$g/tests/test_cuda" --run_test=op_table --report_level=short --color_output=no > "$logs/$tool.txt" 2>&1
    echo $? > "$logs/$tool.status"
}
sanitizer_pids=()
if [ "$dry_run" = 0 ] && [ -n "$sanitizer" ]; then
    sanitize memcheck TAPEGRAD_CUDA_DEBUG=1 &
    sanitizer_pids+=($!)
    sanitize initcheck TAPEGRAD_CUDA_DEBUG=0 &
    sanitizer_pids+=($!)
fi

# ---- training ----------------------------------------------------------------------------------
# tapegrad-train in the background on one thread: output in $logs/NAME.txt, run folder $logs/NAME,
# exit status in $logs/NAME.status, process ${pid_of[NAME]}.
declare -A pid_of
train_in_background() {
    local name=$1
    shift
    {
        TAPEGRAD_NUM_THREADS=1 limit "$t_run" "$train" "$@" --progress lines --out "$logs/$name" > "$logs/$name.txt" 2>&1
        echo $? > "$logs/$name.status"
    } &
    pid_of[$name]=$!
}
# Nothing where run NAME succeeded; otherwise how it failed.
run_failure() {
    local status
    status=$(cat "$logs/$1.status" 2> /dev/null || echo "?")
    if [ "$status" = 0 ]; then return; fi
    if [ "$status" != "?" ] && timed_out "$status"; then echo "timed out"; else echo "exit $status: $(last_words "$logs/$1.txt")"; fi
}

begin train-match
models=(lstm qllstm prlstm transformer)
for model in "${models[@]}"; do
    for device in cpu cuda; do
        train_in_background "match-$model-$device" --device "$device" --task parity_check --model "$model" --seed 7 \
            --steps "$match_steps" --log-every 1 --transformer-layers 2 "${match_size[@]}" --no-eval
    done
done
# Meanwhile the learning run and the first half of the resume check (below).
train_in_background learns --device cuda --task parity_check --model prlstm "${learn_args[@]}"
resume_args=(--device cuda --task bucket_sort --model transformer --transformer-layers 1 "${resume_size[@]}" --no-eval --log-every 1)
train_in_background resume-whole "${resume_args[@]}" --steps "$resume_steps"
train_in_background resume-again "${resume_args[@]}" --steps "$resume_steps"
train_in_background resume-parts "${resume_args[@]}" --steps $((resume_steps / 2))
for model in "${models[@]}"; do wait "${pid_of[match-$model-cpu]}" "${pid_of[match-$model-cuda]}"; done
echo "== the same seed on both devices: $match_steps steps, each step's loss (log.csv)" > "$out/train.txt"
problems=() largest=()
for model in "${models[@]}"; do
    failures=()
    for device in cpu cuda; do
        why=$(run_failure "match-$model-$device")
        [ -z "$why" ] || failures+=("$model on $device: $why")
    done
    if [ ${#failures[@]} -gt 0 ]; then
        problems+=("${failures[@]}")
        echo "$model: $(joined "${failures[@]}")" >> "$out/train.txt"
        continue
    fi
    cpu_log=$logs/match-$model-cpu/log.csv gpu_log=$logs/match-$model-cuda/log.csv
    # Columns of log.csv: step,epoch,loss,... ; one row per step.
    verdict=$(awk -F, -v steps="$match_steps" '
        NR == FNR { if (FNR > 1) cpu[$1] = $3; next }
        FNR > 1 { rows++; d = $3 - cpu[$1]; d = d < 0 ? -d : d; tol = ($1 == 1) ? 2e-5 : 1e-3
                  if (!($1 in cpu)) bad = bad " step " $1 " missing on the CPU"
                  else if (d > tol) bad = bad sprintf(" step %d: cpu %s, cuda %s;", $1, cpu[$1], $3)
                  if (d > worst) worst = d }
        END { if (rows + 0 != steps) bad = bad sprintf(" %d rows for %d steps", rows, steps)
              printf "%s|%.1e\n", bad, worst }' "$cpu_log" "$gpu_log")
    echo "$model: cpu and cuda losses, largest difference ${verdict#*|}${verdict%|*}" >> "$out/train.txt"
    paste -d, "$cpu_log" "$gpu_log" | cut -d, -f1,3,11 | sed 's/^/  step,cpu loss,cuda loss: /' >> "$out/train.txt"
    largest+=("$model ${verdict#*|}")
    [ -z "${verdict%|*}" ] || problems+=("$model:${verdict%|*}")
done
found="largest |cpu - cuda| loss over $match_steps steps: $(printf '%s, ' "${largest[@]}" | sed 's/, $//') (tolerance 2e-5 at step 1, 1e-3 after)"
[ ${#largest[@]} -gt 0 ] || found="no model ran on both devices"
if [ ${#problems[@]} -eq 0 ]; then record train-match PASS "$found"; else record train-match FAIL "$found: $(joined "${problems[@]}")"; fi

begin train-learns
wait "${pid_of[learns]}"
why=$(run_failure learns)
score=$(sed -n 's/.*"score": *\([0-9.e+-]*\).*/\1/p' "$logs/learns/summary.json" 2> /dev/null)
tokens=$(sed -n 's/.*tokens\/s (training) *//p' "$logs/learns.txt" | head -1)
{ echo; echo "== PR-LSTM on parity_check on the GPU: ${learn_args[*]}"; tail -n 14 "$logs/learns.txt"; } >> "$out/train.txt"
found="PR-LSTM parity_check ${learn_args[*]}: score ${score:-none}, ${tokens:-?} training tokens/s"
if [ -n "$why" ] || [ -z "$score" ]; then
    record train-learns FAIL "$found: the run failed (${why:-no score in its summary.json})"
elif [ "$dry_run" = 1 ]; then
    record train-learns PASS "$found (dry run: the 0.9 threshold is not applied)"
elif awk -v s="$score" 'BEGIN {exit !(s >= 0.9)}'; then
    record train-learns PASS "$found (threshold 0.9)"
else
    record train-learns FAIL "$found: below the threshold 0.9"
fi

begin train-resume
wait "${pid_of[resume-whole]}" "${pid_of[resume-again]}" "${pid_of[resume-parts]}"
# The second half: --force-resume, since --steps, the one option that differs, must differ.
if [ -z "$(run_failure resume-parts)" ]; then
    cp -r "$logs/resume-parts" "$logs/resume-parts-2"
    train_in_background resume-parts-2 "${resume_args[@]}" --steps "$resume_steps" \
        --resume "$logs/resume-parts-2/checkpoint.safetensors" --force-resume
    wait "${pid_of[resume-parts-2]}"
fi
# The largest difference between two safetensors files' float tensors (Python's standard library).
max_difference() {
    command -v python3 > /dev/null || { echo "unknown (no python3)"; return; }
    python3 - "$1" "$2" << 'EOF'
import json, struct, sys
def load(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] not in ("F32", "F64"):
            continue
        fmt = "f" if t["dtype"] == "F32" else "d"
        start, end = t["data_offsets"]
        out[name] = struct.unpack("<%d%s" % ((end - start) // struct.calcsize(fmt), fmt), body[start:end])
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
worst, where = 0.0, ""
for name in a:
    for x, y in zip(a[name], b.get(name, ())):
        if abs(x - y) > worst:
            worst, where = abs(x - y), name
print("%.1e (in %s)" % (worst, where) if where else "0 in the float tensors (the files differ elsewhere)")
EOF
}
whole=$logs/resume-whole/checkpoint.safetensors again=$logs/resume-again/checkpoint.safetensors parts=$logs/resume-parts-2/checkpoint.safetensors
found="Transformer bucket_sort, $resume_steps steps against $((resume_steps / 2)) + $((resume_steps / 2)) resumed"
failures=()
for run in whole again parts parts-2; do
    [ "$run" != parts-2 ] || [ -f "$logs/resume-parts-2.status" ] || continue  # not started: the first half failed
    why=$(run_failure "resume-$run")
    [ -z "$why" ] || failures+=("resume-$run: $why")
done
if [ ${#failures[@]} -gt 0 ]; then
    record train-resume FAIL "$found: $(joined "${failures[@]}")"
elif cmp -s "$whole" "$parts"; then
    record train-resume PASS "$found: identical checkpoints"
else
    run_to_run=$(cmp -s "$whole" "$again" && echo "identical" || echo "differ too, by $(max_difference "$whole" "$again")")
    record train-resume FAIL "$found: NOT identical, largest difference $(max_difference "$whole" "$parts"); two uninterrupted runs $run_to_run"
fi
{ echo; echo "== resume"; tail -n 3 "$logs/resume-whole.txt" "$logs/resume-parts-2.txt" 2> /dev/null; } >> "$out/train.txt"

# ---- the sanitizer's results -------------------------------------------------------------------
for pid in "${sanitizer_pids[@]}"; do wait "$pid"; done
for tool in memcheck initcheck; do
    part_start=$([ ${#sanitizer_pids[@]} -gt 0 ] && echo "$sanitizer_start" || echo "$SECONDS")
    if [ "$dry_run" = 1 ]; then
        record "$tool" SKIP "dry run: compute-sanitizer reported as unavailable (the emulation has no GPU code to instrument)"
        continue
    elif [ -z "$sanitizer" ]; then
        record "$tool" SKIP "compute-sanitizer not found (\$COMPUTE_SANITIZER, PATH, /usr/local/cuda/bin, /usr/local/cuda/compute-sanitizer, the pack's sanitizer/)"
        continue
    fi
    log=$logs/$tool.txt status=$(cat "$logs/$tool.status")
    { echo "== $sanitizer --tool $tool test_cuda --run_test=op_table (exit $status)"; grep -E "^=========|test cases? out of|error" "$log" | head -60; echo; } >> "$out/sanitizer.txt"
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) error.*/\1/p' "$log" | tail -1)
    # Boost.Test counts the cases --run_test left out as skipped: only passed and failed say anything.
    cases=$(sed -n 's/^ *\([0-9]*\) test cases\{0,1\} out of [0-9]* \(passed\|failed\|aborted\).*/\1 \2/p' "$log" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
    found="${sanitizer#"$g"/} --tool $tool, test_cuda --run_test=op_table$([ "$tool" = memcheck ] && echo " with TAPEGRAD_CUDA_DEBUG=1"): ${errors:-no} error(s) reported, test cases: ${cases:-none}"
    if grep -q -i "device not supported\|not supported on this" "$log"; then
        record "$tool" SKIP "compute-sanitizer cannot use this machine's GPU: $(grep -m1 -i "not supported" "$log" | sed 's/^=* *//')"
    elif timed_out "$status"; then
        record "$tool" FAIL "$found: timed out (limit ${t_sanitizer} s, or the whole check's)"
    elif [ "$status" -eq 0 ] && [ "${errors:-1}" -eq 0 ]; then
        record "$tool" PASS "$found"
    else
        record "$tool" FAIL "$found: exit $status; first error: $(grep -m1 -E "^========= (Invalid|Uninitialized|Program hit|Error)" "$log" | sed 's/^=* *//')"
    fi
done

# ---- the end -----------------------------------------------------------------------------------
tar -cJf "$out/logs.tar.xz" -C "$work" logs 2> /dev/null
verdict=$([ "$failed" = 0 ] && echo PASS || echo FAIL)
line="$verdict: scripts/gpu-check.sh$([ "$dry_run" = 1 ] && echo ' --dry-run') in $((SECONDS - start_s)) s, $(date -u '+%Y-%m-%d %H:%M UTC'), pack $(sed -n 's/^commit: *//p' "$g/PACK.txt")"
echo "$line" >> "$out/summary.txt"
echo
cat "$out/summary.txt"
echo "(everything under $out; repository $repo)"
exit "$failed"
