#!/usr/bin/env bash
# Builds here everything scripts/gpu-check.sh runs on a lent GPU machine, which lacks this project's
# Debian packages (OpenBLAS, Boost.Test, fmt, jemalloc...), and packs it into one file that travels
# there with the working tree (docs/GPU.md, "Checking a GPU machine"):
#
#   scripts/gpu-pack.sh               CUDA build in build-gpu/     -> gpu-carry/pack.tar.xz
#   scripts/gpu-pack.sh --emulation   host emulation (make EMU=1)  -> gpu-carry/pack-emu.tar.xz,
#                                     for `scripts/gpu-check.sh --dry-run` on this machine
#   --no-sanitizer                    leave compute-sanitizer out (it is fetched with pip otherwise)
#
# The pack holds, under one folder:
#   tests/ bench/ examples/   every test suite, every benchmark (bench_cuda among them), tapegrad-train
#                             and the other examples, in the build's layout (tests/test_inspect runs
#                             ../examples/step_through)
#   lib/                      every shared library they need apart from glibc, libstdc++, libgcc and
#                             CUDA's own (cudart, cuBLAS: the GPU machine's CUDA 13 has them)
#   sanitizer/                compute-sanitizer from NVIDIA's wheel (SANITIZER_WHEEL below), a
#                             fallback where the GPU machine's toolkit has none
#   PACK.txt                  what was built: commit, compilers, GPU targets, libraries
#
# GPU code: machine code for each of CUDA_ARCHS (default "80 90": A100, H100/H200) and PTX of the
# last, which the driver compiles for newer GPUs; -lineinfo (compute-sanitizer names source lines).
# Host code: -march=x86-64-v3 (the Makefile's default, any x86 CPU since 2013), not this CPU's.
# The CUDA build compiles every suite with nvcc: several minutes on two cores. CXX="ccache g++"
# and JOBS=N are passed to make.
set -euo pipefail
cd "$(dirname "$0")/.."

emulation=0 sanitizer=1
for arg in "$@"; do
    case "$arg" in
        --emulation) emulation=1 ;;
        --no-sanitizer) sanitizer=0 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu-pack: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
    esac
done

archs=${CUDA_ARCHS:-80 90}
jobs=${JOBS:-$(nproc)}
# The compute-sanitizer of CUDA 13.0 (the toolkit these binaries are built with, and the driver
# series 580 of the lent H200s supports): NVIDIA's PyPI wheel holds the program and its libraries.
SANITIZER_WHEEL=${SANITIZER_WHEEL:-nvidia-cuda-sanitizer-api==13.0.85}

if [ "$emulation" = 1 ]; then
    make_vars=(EMU=1)
    pack=gpu-carry/pack-emu.tar.xz
    kind="host emulation of the CUDA runtime (make EMU=1): for scripts/gpu-check.sh --dry-run"
else
    command -v nvcc > /dev/null || { echo "gpu-pack: no nvcc on PATH: a CUDA build needs it (or --emulation)" >&2; exit 1; }
    make_vars=(BUILD=build-gpu CUDA_ARCHS="$archs")
    pack=gpu-carry/pack.tar.xz
    kind="CUDA, GPU code for sm_${archs// /, sm_} and PTX of compute_${archs##* }"
fi
build=$(make --no-print-directory "${make_vars[@]}" info | sed -n 's/^tapegrad build (\(.*\)):.*/\1/p')
[ -n "$build" ] || { echo "gpu-pack: make info did not name the build folder" >&2; exit 1; }

echo "gpu-pack: building $kind in $build/ (make -j$jobs)"
nice make --no-print-directory -j"$jobs" "${make_vars[@]}" build-tests build-benches build-examples > "$build/gpu-pack-build.log" 2>&1 ||
    { tail -30 "$build/gpu-pack-build.log"; echo "gpu-pack: the build failed (log: $build/gpu-pack-build.log)" >&2; exit 1; }
if [ "$emulation" = 0 ]; then
    grep -q "nvcc found" "$build/gpu-pack-build.log" ||
        { echo "gpu-pack: make did not build the CUDA backend (see $build/gpu-pack-build.log)" >&2; exit 1; }
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/tapegrad-pack
mkdir -p "$root/lib" gpu-carry
for dir in tests bench examples; do
    mkdir -p "$root/$dir"
    find "$build/$dir" -maxdepth 1 -type f -perm -u+x -exec cp {} "$root/$dir/" \;
done
binaries=("$root"/tests/* "$root"/bench/* "$root"/examples/*)

# Shared libraries: what ldd resolves here for any binary, less glibc, the C++ runtime and (a CUDA
# pack) CUDA's libraries, which must be the GPU machine's own, matching its driver.
system_libs='^(linux-vdso|ld-linux-x86-64|libc|libm|libmvec|libdl|libpthread|librt|libutil|libresolv|libstdc\+\+|libgcc_s)\.so'
cuda_libs='^(libcudart|libcublas|libcublasLt|libcuda|libnvrtc|libnvJitLink)\.so'
ldd "${binaries[@]}" 2> /dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
    while read -r name path; do
        [[ "$name" =~ $system_libs ]] && continue
        [ "$emulation" = 0 ] && [[ "$name" =~ $cuda_libs ]] && continue
        cp -L "$path" "$root/lib/$name"
    done
missing=$(ldd "${binaries[@]}" 2> /dev/null | grep "not found" | sort -u || true)
[ -z "$missing" ] || { echo "gpu-pack: libraries not found here: $missing" >&2; exit 1; }

sanitizer_line="not packed (--no-sanitizer)"
if [ "$sanitizer" = 1 ] && [ "$emulation" = 0 ]; then
    cache=gpu-carry/cache
    mkdir -p "$cache"
    wheel=$(find "$cache" -name 'nvidia_cuda_sanitizer_api-*.whl' 2> /dev/null | sort | tail -1)
    if [ -z "$wheel" ] || [[ "$wheel" != *"${SANITIZER_WHEEL##*==}"* ]]; then
        python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$cache" "$SANITIZER_WHEEL" || true
        wheel=$(find "$cache" -name "nvidia_cuda_sanitizer_api-${SANITIZER_WHEEL##*==}-*.whl" | tail -1)
    fi
    if [ -n "$wheel" ]; then
        # The toolkit's layout: the program and its injection libraries in one folder.
        mkdir -p "$root/sanitizer"
        unzip -q -o -j "$wheel" 'nvidia/cu13/bin/compute-sanitizer' 'nvidia/cu13/lib/*.so' -d "$root/sanitizer"
        chmod +x "$root/sanitizer/compute-sanitizer"
        sanitizer_line="$("$root/sanitizer/compute-sanitizer" --version | sed -n 's/^Version/version/p') from $(basename "$wheel")"
    else
        sanitizer_line="NOT packed: pip could not fetch $SANITIZER_WHEEL (gpu-check.sh uses the GPU machine's own if it has one)"
        echo "gpu-pack: $sanitizer_line" >&2
    fi
elif [ "$emulation" = 1 ]; then
    sanitizer_line="not packed (emulation: no GPU code to instrument)"
fi

{
    echo "tapegrad GPU pack: $kind"
    echo "made:        $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n), $(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release)"
    echo "commit:      $(git rev-parse --short HEAD 2> /dev/null || echo unknown)$(git diff --quiet HEAD 2> /dev/null || echo ' (with uncommitted changes)')"
    echo "make:        make ${make_vars[*]} build-tests build-benches build-examples (in $build/)"
    echo "compiler:    $(${CXX:-g++} --version | head -1)"
    [ "$emulation" = 1 ] || echo "nvcc:        $(nvcc --version | sed -n 's/^Cuda compilation tools, //p')"
    echo "host code:   $(sed 's/ | .*//; s/ -I.*//' "$build/compile-flags")"
    [ "$emulation" = 1 ] || echo "GPU code:    $(sed -n 's/.*| \(.*\)/\1/p' "$build/compile-flags" | grep -o -e '-gencode [^ ]*' -e '-lineinfo' | tr '\n' ' ')"
    echo "libraries:   $(cd "$root/lib" && printf '%s ' *)"
    echo "sanitizer:   $sanitizer_line"
    echo "binaries:    ${#binaries[@]} ($(cd "$root/tests" && printf '%s ' *))"
} > "$root/PACK.txt"

tar -cf - -C "$stage" tapegrad-pack | xz -9 --memlimit-compress=2GiB > "$pack.tmp"
mv "$pack.tmp" "$pack"
cat "$root/PACK.txt"
echo "gpu-pack: $pack, $(du -h "$pack" | cut -f1) ($(du -sh "$root" | cut -f1) unpacked)"
