#!/usr/bin/env bash
# Run a command on a reduced CPU (see cpumask.c): benches/cpumask/run.sh avx2|sse CMD ARGS...
# e.g. benches/cpumask/run.sh avx2 cargo bench --bench encoder -- encoder_
# Builds cpumask.so into ${CARGO_TARGET_DIR:-target}/ on first use. Needs `cpuid_fault`
# in /proc/cpuinfo (Intel CPUs and KVM guests).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
profile=${1:?usage: run.sh avx2|sse CMD ARGS...}
shift
case $profile in
  avx2) hwcaps="-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL,-AVX512ER,-AVX512PF" ;;
  sse) hwcaps="-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL,-AVX,-AVX2,-FMA,-F16C" ;;
  *) echo "run.sh: unknown profile $profile (avx2 or sse)" >&2; exit 2 ;;
esac
grep -qw cpuid_fault /proc/cpuinfo || { echo "run.sh: this CPU cannot fault on CPUID (no cpuid_fault flag)" >&2; exit 2; }
target=${CARGO_TARGET_DIR:-$here/../../target}
mkdir -p "$target"
so="$target/cpumask.so"
if [ ! -f "$so" ] || [ "$here/cpumask.c" -nt "$so" ]; then
  cc -O2 -Wall -shared -fPIC -o "$so" "$here/cpumask.c" -ldl
fi
export CPUMASK=$profile
export LD_PRELOAD="$so${LD_PRELOAD:+:$LD_PRELOAD}"
export GLIBC_TUNABLES="glibc.cpu.hwcaps=$hwcaps"
exec "$@"
