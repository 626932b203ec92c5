#!/usr/bin/env bash
# Sets up the machine (apt), builds once, runs every test project (unit, snapshot, integration in
# network namespaces with real prosody/coturn/TUN/TAP), and prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/setup.sh || exit 1
bash scripts/lab-cleanup.sh

results="$root/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
echo "== build (Release)"
if ! dotnet build Ipop.sln -c Release -v q -nologo -clp:ErrorsOnly; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# The hosts as they ship: Native AOT binaries in artifacts/publish/<name>/<name>. The lab tests (and the demo) run
# these when they exist (IPOP_HOSTS=jit runs the JIT dlls instead); a publish failure (an AOT or trim warning) fails
# the run.
echo "== publish (Native AOT: ipop-tincan, groupvpn, socialvpn)"
publish_start=$SECONDS
if ! bash scripts/publish.sh; then
  echo "publish failed"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "   published in $((SECONDS - publish_start)) s"
if [ "${IPOP_HOSTS:-}" = jit ]; then echo "   lab hosts: JIT builds (IPOP_HOSTS=jit)"; else echo "   lab hosts: Native AOT binaries"; fi

# NuGet packages of every src/ project (with README, XML docs, symbols, SourceLink) into a local feed;
# samples/CustomController consumes them like an outside user, and a test builds and runs it.
echo "== pack"
rm -rf artifacts/packages
if ! dotnet pack Ipop.sln -c Release --no-build -v q -nologo -o artifacts/packages; then
  echo "pack failed"
  echo "0 passed, 1 failed"
  exit 1
fi

status=0
# A system-wide prosody (the user's, or one started here as a stand-in) must survive the whole run: the scripts and
# the lab never stop, disable or kill what they did not start. tests/Ipop.SystemGuard checks it after everything else.
if guard=$(bash scripts/system-services-guard.sh start); then eval "$guard"; else echo "system-services-guard start failed"; status=1; fi
trap 'bash scripts/system-services-guard.sh stop >/dev/null 2>&1' EXIT

for proj in tests/*.Tests/*.csproj tests/Ipop.IntegrationTests/*.csproj tests/Ipop.SystemGuard/*.csproj; do
  [ -f "$proj" ] || continue
  name=$(basename "$proj" .csproj)
  echo "== $name"
  # --blame-hang-timeout: a hung test fails the run with a dump instead of eating CI's time.
  log="$results/$name.log"
  if dotnet test "$proj" -c Release --no-build --nologo -v q \
      --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
      --blame-hang-timeout 8m >"$log" 2>&1; then
    grep -E "Passed!|Failed!" "$log" | tail -n 3
  else
    status=1
    grep -vE '^\s*$' "$log" | tail -n 80
  fi
done

bash scripts/lab-cleanup.sh
bash scripts/system-services-guard.sh stop; trap - EXIT
summary=$(python3 scripts/trx-summary.py "$results") || { summary="0 passed, 1 failed"; status=1; }
echo "$summary"
case "$summary" in *", 0 failed"*) ;; *) status=1 ;; esac
exit $status
