#!/usr/bin/env bash
# Installs what Ipop's demo, tests and benchmarks need on a Debian 12 machine (run as root).
# Idempotent: it only calls apt when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (network namespaces, TUN/TAP devices and iptables need it)" >&2
  exit 1
fi

# Debian packages: the real servers (prosody, ejabberd, coturn), the lab's tools, and the benchmark anchors.
packages=(prosody lua-event ejabberd coturn iptables iproute2 iperf3 conntrack iputils-ping procps python3 openssl
          wireguard-go wireguard-tools nebula)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The packages start system-wide prosody/ejabberd/coturn daemons; the tests and the lab run their own instances.
for svc in prosody ejabberd coturn; do
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
done
pkill -x prosody 2>/dev/null || true
pkill -x turnserver 2>/dev/null || true
# ejabberd runs as beam.smp, like any Erlang VM: stop only the system node (user ejabberd), through its own
# control script. (The tests' private ejabberd runs without Erlang distribution and never meets it anyway.)
if pgrep -u ejabberd -x beam.smp >/dev/null 2>&1; then timeout 60 ejabberdctl stop >/dev/null 2>&1 || true; fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: installing the .NET 10 SDK"
  apt-get install -y -qq dotnet-sdk-10.0 >/dev/null 2>&1 || {
    echo "setup: the .NET 10 SDK is not installed and no apt source provides dotnet-sdk-10.0;" >&2
    echo "       install it from https://dot.net (or add Microsoft's Debian package feed) and run again." >&2
    exit 1
  }
fi

[ -c /dev/net/tun ] || { echo "setup: /dev/net/tun is missing: TUN/TAP devices cannot be created here" >&2; exit 1; }
