#!/usr/bin/env bash
# Build, instrument and run the CmpCluster fuzz harnesses (fuzz/README.md).
#   fuzz/fuzz.sh build                      publish to fuzz/out/bin, instrument the product assemblies with sharpfuzz
#   fuzz/fuzz.sh run HARNESS [SECONDS]      afl-fuzz (niced, one instance) on fuzz/corpus/HARNESS; findings in fuzz/findings/HARNESS
#   fuzz/fuzz.sh repro HARNESS PATH...      run files or folders once through the harness, print unexpected exceptions
#   fuzz/fuzz.sh stats HARNESS              the last fuzzer_stats of a run
# HARNESS is request, tcp or ocsp.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/out/bin
DLL=$OUT/CmpCluster.Fuzz.dll
export PATH="$PATH:$HOME/.dotnet/tools"

case "${1:-}" in
  build)
    rm -rf "$OUT"
    nice -n 19 dotnet publish "$HERE/CmpCluster.Fuzz/CmpCluster.Fuzz.csproj" -c Release -o "$OUT" -p:UseAppHost=false
    # Product assemblies fully; BouncyCastle only where it parses ASN.1 (its crypto would only add noise to the map).
    for assembly in CmpCluster.Protocol CmpCluster.Grains CmpCluster.Gateway CmpCluster.Contracts; do
      sharpfuzz "$OUT/$assembly.dll"
    done
    sharpfuzz "$OUT/BouncyCastle.Cryptography.dll" Org.BouncyCastle.Asn1
    ;;
  run)
    harness=${2:?harness: request, tcp or ocsp}
    seconds=${3:-1800}
    findings=$HERE/findings/$harness
    mkdir -p "$findings"
    # -V: stop after SECONDS; -t: ms per input (hangs beyond it are kept in hangs/); -m none: the CLR reserves much
    # virtual memory. AFL_SKIP_BIN_CHECK: the target is `dotnet`, the instrumentation is in the managed assemblies.
    exec env AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_FORKSRV_INIT_TMOUT=120000 AFL_NO_AFFINITY=1 AFL_TESTCACHE_SIZE=50 \
      nice -n 19 afl-fuzz -i "$HERE/corpus/$harness" -o "$findings" -x "$HERE/cmp.dict" -t 5000 -m none -V "$seconds" \
      -- dotnet "$DLL" "$harness"
    ;;
  repro)
    harness=${2:?harness: request, tcp or ocsp}
    shift 2
    dotnet "$DLL" "$harness" "$@"
    ;;
  stats)
    harness=${2:?harness: request, tcp or ocsp}
    cat "$HERE/findings/$harness/default/fuzzer_stats"
    ;;
  *)
    sed -n 2,8p "$0"
    exit 2
    ;;
esac
