#!/usr/bin/env bash
# Publishes the hosts as Native AOT single-file linux-x64 binaries:
#   artifacts/publish/<name>/<name>   (ipop-tincan, groupvpn, socialvpn)
# Usage: bash scripts/publish.sh [ipop-tincan|groupvpn|socialvpn ...]   (default: all three)
# Extra `dotnet publish` arguments come from $IPOP_PUBLISH_ARGS (e.g. "-v n" or "-p:OptimizationPreference=Speed").
# PublishAot is set here only: `dotnet build` and `dotnet run` stay JIT.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

project_of() {
  case "$1" in
    ipop-tincan) echo tools/Ipop.TincanHost/Ipop.TincanHost.csproj ;;
    groupvpn) echo samples/GroupVpnHost/GroupVpnHost.csproj ;;
    socialvpn) echo samples/SocialVpnHost/SocialVpnHost.csproj ;;
    *) return 1 ;;
  esac
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(ipop-tincan groupvpn socialvpn)
for name in "${names[@]}"; do
  project_of "$name" >/dev/null || { echo "publish: unknown host '$name' (expected ipop-tincan, groupvpn or socialvpn)" >&2; exit 2; }
done

# The native linker step needs clang and zlib headers (scripts/setup.sh installs them).
command -v clang >/dev/null 2>&1 || { echo "publish: clang is missing: run scripts/setup.sh (Native AOT links with clang)" >&2; exit 1; }

# shellcheck disable=SC2206 # word splitting of the extra arguments is intended
extra=(${IPOP_PUBLISH_ARGS:-})
for name in "${names[@]}"; do
  project=$(project_of "$name")
  out="$root/artifacts/publish/$name"
  rm -rf "$out"
  echo "== publish $name (Native AOT, linux-x64) -> artifacts/publish/$name/$name"
  start=$SECONDS
  dotnet publish "$project" -c Release -r linux-x64 -p:PublishAot=true -o "$out" \
    -v q -nologo -clp:ErrorsOnly "${extra[@]}"
  [ -x "$out/$name" ] || { echo "publish: $out/$name was not produced" >&2; exit 1; }
  # What stays: the binary, its native symbols (<name>.dbg, for a symbolized crash) and libsodium.so, which NSec
  # loads from beside the binary (there is no static libsodium to link). The libraries' pdb/xml files are not needed.
  rm -f "$out"/*.pdb "$out"/*.xml
  size=$(stat -c %s "$out/$name")
  echo "   $name: $((size / 1024 / 1024)) MB ($size bytes), $((SECONDS - start)) s"
done
