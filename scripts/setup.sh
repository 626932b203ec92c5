#!/usr/bin/env bash
# Installs what Ipop's demo, tests and benchmarks need on a Debian 12 machine (run as root).
# Idempotent: it only calls apt when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (network namespaces, TUN/TAP devices and iptables need it)" >&2
  exit 1
fi

# Debian packages: the real servers (prosody, ejabberd, coturn), the lab's tools, the benchmark anchors, and afl++
# (afl-fuzz drives the SharpFuzz harnesses of fuzz/Ipop.Fuzz; see docs/fuzzing.md). clang and zlib1g-dev are what
# Native AOT needs to link the hosts (scripts/publish.sh); the ILCompiler itself comes from NuGet.
packages=(prosody lua-event ejabberd coturn iptables iproute2 iperf3 conntrack iputils-ping procps python3 openssl
          wireguard-go wireguard-tools nebula afl++ clang zlib1g-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The server packages would start system-wide prosody/ejabberd/coturn daemons. The tests, the demo and the
  # benchmarks run their own instances in namespaces (or on free loopback ports), so nothing system-wide is
  # needed: a policy-rc.d that refuses service starts keeps the install from starting any, for the length of
  # the install only. Services that were already there are left exactly as the user had them.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$made_policy" = 1 ]; then rm -f "$policy"; made_policy=0; fi
  trap - EXIT
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: installing the .NET 10 SDK"
  apt-get install -y -qq dotnet-sdk-10.0 >/dev/null 2>&1 || {
    echo "setup: the .NET 10 SDK is not installed and no apt source provides dotnet-sdk-10.0;" >&2
    echo "       install it from https://dot.net (or add Microsoft's Debian package feed) and run again." >&2
    exit 1
  }
fi

[ -c /dev/net/tun ] || { echo "setup: /dev/net/tun is missing: TUN/TAP devices cannot be created here" >&2; exit 1; }
