# Build flags shared by every script, CMake and the README (sourced, not run).
# Release mode; libmanako.so carries the Swift runtime statically, exports only manako_*,
# and has SONAME libmanako.so.0. That build lives in .build/static (Swift Testing cannot link
# against the static runtime, so `swift test` uses the default .build with SWIFT_TEST_FLAGS). On x86-64 the fast path (AVX2 + FMA) is on; set
# MANAKO_CPU_FLAGS="" for a baseline build, or to other flags for another CPU.
MANAKO_ROOT=${MANAKO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
if [ -z "${MANAKO_CPU_FLAGS+set}" ]; then
    case "$(uname -m)" in
        x86_64) MANAKO_CPU_FLAGS="-Xcc -mavx2 -Xcc -mfma -Xswiftc -target-cpu -Xswiftc haswell" ;;
        *) MANAKO_CPU_FLAGS="" ;;
    esac
fi
# shellcheck disable=SC2206
SWIFT_TEST_FLAGS=(-c release $MANAKO_CPU_FLAGS)
# shellcheck disable=SC2206
SWIFT_BUILD_FLAGS=(-c release
    --scratch-path "$MANAKO_ROOT/.build/static"
    -Xswiftc -static-stdlib
    -Xlinker "--version-script=$MANAKO_ROOT/scripts/libmanako.map"
    -Xlinker -soname=libmanako.so.0
    $MANAKO_CPU_FLAGS)
