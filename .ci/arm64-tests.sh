#!/usr/bin/env bash
# The ARM64 kernels' and the model's tests on an x86 machine, under emulation (issue 15): QwenSharp.Tests published
# self-contained for linux-arm64 (the runtime pack comes from NuGet) with a small in-process runner
# (tests/QwenSharp.Arm64Runner), run by qemu-aarch64 (Debian's qemu-user) at each ARM64 tier:
#   arm64-dotprod  -cpu max (sdot), kernel tests and the llama.cpp comparisons (logits and `qwensharp perplexity`
#                  against llama.cpp's own linux-arm64 build from LLamaSharp.Backend.Cpu, i.e. ggml's NEON kernels);
#   arm64-neon     -cpu max with QWENSHARP_KERNELS=arm64-neon, the same tests;
#                  -cpu cortex-a72 (ARMv8.0, no dotprod): the tier detected without sdot, kernel tests;
#   portable       QWENSHARP_KERNELS=portable: the selection points fall back to the plain twins.
# On an aarch64 machine the runner runs natively instead. Exits 0 with a 'skipped: <reason>' line when qemu or the
# runtime pack cannot be had; exits 1 when any test fails. Ends with the totals ('Failed: N, Passed: N' for .ci/run,
# then 'arm64: N passed, N failed').
set -uo pipefail
cd "$(dirname "$0")/.."

skip() { echo "skipped: $*"; exit 0; }

out=artifacts/arm64-tests
sysroot=${QWENSHARP_ARM64_SYSROOT:-/tmp/qwensharp-arm64-sysroot}
llama=1

apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1; }; }

if [ "$(uname -m)" = aarch64 ]; then
    emulate() { shift; "$@"; }   # native: the cpu argument is ignored
else
    command -v qemu-aarch64 >/dev/null || apt_install qemu-user || true
    command -v qemu-aarch64 >/dev/null || skip "qemu-aarch64 (Debian qemu-user) could not be installed"
    # The arm64 C runtime for qemu's -L. llama.cpp's linux-arm64 libraries in LLamaSharp.Backend.Cpu 0.30.0 need
    # glibc 2.38 (__isoc23_strtol); Debian 12's libc6-arm64-cross is 2.36, so Debian 13's cross runtime packages are
    # fetched by apt into a private folder (nothing on the system changes). Failing that, Debian 12's are installed
    # and the llama.cpp comparisons are skipped.
    if [ ! -e "$sysroot/usr/aarch64-linux-gnu/lib/libc.so.6" ]; then
        apt_dir=$(mktemp -d)
        mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$apt_dir/sources.list"
        opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir" -o Dir::State::Status=/dev/null)
        if apt-get "${opts[@]}" update -q >/dev/null 2>&1 &&
           (cd "$apt_dir/debs" && apt-get "${opts[@]}" download libc6-arm64-cross libgcc-s1-arm64-cross libstdc++6-arm64-cross libgomp1-arm64-cross >/dev/null 2>&1); then
            mkdir -p "$sysroot"
            for deb in "$apt_dir"/debs/*.deb; do dpkg -x "$deb" "$sysroot"; done
        fi
        rm -rf "$apt_dir"
    fi
    if [ ! -e "$sysroot/usr/aarch64-linux-gnu/lib/libc.so.6" ]; then
        [ -e /usr/aarch64-linux-gnu/lib/libgomp.so.1 ] || apt_install libc6-arm64-cross libstdc++6-arm64-cross libgomp1-arm64-cross || true
        [ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || skip "no arm64 C runtime (libc6-arm64-cross) could be installed"
        sysroot=/
        llama=0
        echo "skipped: the llama.cpp comparisons (its linux-arm64 build needs glibc 2.38; only Debian 12's 2.36 cross runtime could be had)"
    fi
    # W^X double mapping of JIT code makes the runtime fault under qemu-user (an AccessViolation in managed code).
    export DOTNET_EnableWriteXorExecute=0
    emulate() { local cpu=$1; shift; qemu-aarch64 -L "$sysroot/usr/aarch64-linux-gnu" -cpu "$cpu" "$@"; }
fi

dotnet restore tests/QwenSharp.Arm64Runner -r linux-arm64 -p:SelfContained=true >/dev/null 2>&1 ||
    skip "the linux-arm64 runtime pack could not be restored from NuGet"
echo "publishing the tests for linux-arm64..."
if ! dotnet publish tests/QwenSharp.Arm64Runner -c Release -r linux-arm64 --self-contained -o "$out" -v quiet -nologo; then
    echo "arm64: 0 passed, 1 failed"
    exit 1
fi

kernels=(QwenSharp.Tests.Kernels.Arm64KernelTests QwenSharp.Tests.Kernels.FastKernelTwinTests QwenSharp.Tests.Kernels.HalfDotTests
         QwenSharp.Tests.Kernels.RoundActivationsTests QwenSharp.Tests.Kernels.KernelTierTests QwenSharp.Tests.Kernels.SiblingMatMulTests
         QwenSharp.Tests.Kernels.KvRowsTests QwenSharp.Tests.Kernels.AttentionTests QwenSharp.Tests.Kernels.LongAttentionTests)
# MatMulTests and the model tests call llama.cpp's ggml and llama libraries. (QuantizeTests stay on x86: ggml's
# reference quantizers built for arm64 round some Q4_K/Q5_K scales differently from its x86 build and from ours.)
with_llama=(QwenSharp.Tests.Kernels.MatMulTests QwenSharp.Tests.Model.LlamaCppFidelityTests.LogitsMatch QwenSharp.Tests.Model.PerplexityTests)
[ "$llama" = 1 ] || with_llama=()

passed=0 failed=0 status=0
# run TIER CPU EXPECTED TESTS...: the runner's first line names the tier in use, which must be EXPECTED.
run() {
    local tier=$1 cpu=$2 expected=$3 log
    shift 3
    echo "== QWENSHARP_KERNELS=${tier:-(unset)} on -cpu $cpu"
    log=$(mktemp)
    QWENSHARP_KERNELS=$tier emulate "$cpu" "$out/QwenSharp.Arm64Runner" "$@" 2>&1 | tee "$log" | grep -v '^PASS ' | grep -v '^     at '
    local rc=${PIPESTATUS[0]} line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    passed=$((passed + $(echo "${line:-0 passed, 1 failed}" | awk '{print $1}')))
    failed=$((failed + $(echo "${line:-0 passed, 1 failed}" | awk '{print $3}')))
    if ! head -1 "$log" | grep -q "kernels: $expected"; then
        echo "FAIL the tier in use is not $expected: $(head -1 "$log")"
        failed=$((failed + 1))
        rc=1
    fi
    [ "$rc" = 0 ] || status=1
    rm -f "$log"
}

run arm64-dotprod max arm64-dotprod "${kernels[@]}" "${with_llama[@]}"
run arm64-neon max arm64-neon "${kernels[@]}" "${with_llama[@]}"
run "" cortex-a72 arm64-neon QwenSharp.Tests.Kernels.Arm64KernelTests QwenSharp.Tests.Kernels.KernelTierTests
run portable max portable QwenSharp.Tests.Kernels.Arm64KernelTests.Every_selection_point QwenSharp.Tests.Kernels.KernelTierTests

# The totals also in dotnet test's words, which .ci/run adds up.
echo "ARM64 under qemu - Failed: $failed, Passed: $passed"
echo "arm64: $passed passed, $failed failed"
exit "$status"
