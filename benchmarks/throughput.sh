#!/usr/bin/env bash
# Throughput in ONE run, on the same kind of namespace pair (two namespaces joined by a veth), of:
#   plain veth (the ceiling), Ipop (ipop-tincan, TUN), wireguard-go (userspace WireGuard), nebula.
# Each round runs all four back to back; with ROUNDS>1 the median per tunnel is reported.
# Prints a table in Mbit/s and the ratio Ipop / wireguard-go. Usage (root):
#   bash benchmarks/throughput.sh            # T=5 seconds per iperf3 run, ROUNDS=1
#   T=10 ROUNDS=3 bash benchmarks/throughput.sh
set -euo pipefail
cd "$(dirname "$0")/.."
T=${T:-5}; ROUNDS=${ROUNDS:-1}; MTU=${MTU:-1420}
[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh
[ "${SKIP_BUILD:-0}" = 1 ] || dotnet build tools/Ipop.TincanHost -c Release -v q -nologo -clp:ErrorsOnly
IPOP="dotnet $(pwd)/tools/Ipop.TincanHost/bin/Release/net10.0/ipop-tincan.dll"
WORK=$(mktemp -d); A=""; B=""; PIDS=()

cleanup_pair() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
  PIDS=()
  for ns in $A $B; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del "$ns" 2>/dev/null; done
  A=""; B=""
}
trap 'cleanup_pair; rm -rf "$WORK"' EXIT INT TERM

new_pair() { # underlay 198.18.0.1 <-> 198.18.0.2
  A="ipb$$a$1"; B="ipb$$b$1"
  ip netns add "$A"; ip netns add "$B"
  ip link add ve0 netns "$A" type veth peer name ve1 netns "$B"
  ip -n "$A" addr add 198.18.0.1/24 dev ve0; ip -n "$A" link set ve0 up; ip -n "$A" link set lo up
  ip -n "$B" addr add 198.18.0.2/24 dev ve1; ip -n "$B" link set ve1 up; ip -n "$B" link set lo up
}

iperf() { # server address -> Mbit/s
  ip netns exec "$B" iperf3 -s -1 -D -B "$1" >/dev/null; sleep 0.5
  ip netns exec "$A" ping -c 3 -i 0.2 -w 10 "$1" >/dev/null || { echo 0; return; }
  ip netns exec "$A" iperf3 -c "$1" -t "$T" -J > "$WORK/i.json" 2>/dev/null || { echo 0; return; }
  python3 -c "import json;d=json.load(open('$WORK/i.json'));print(round(d['end']['sum_received']['bits_per_second']/1e6))"
}

bench_veth() { new_pair v; ip -n "$A" link set ve0 mtu "$MTU"; ip -n "$B" link set ve1 mtu "$MTU"; iperf 198.18.0.2; cleanup_pair; }

bench_ipop() {
  new_pair i
  local ka kb; ka=$($IPOP genkey --key "$WORK/a.key"); kb=$($IPOP genkey --key "$WORK/b.key")
  for n in a b; do
    if [ $n = a ]; then me=1; peer=2; pk=$kb; else me=2; peer=1; pk=$ka; fi
    cat > "$WORK/$n.json" <<J
{ "Tincan": { "ListenPort": 51820, "PrivateKeyPath": "$WORK/$n.key" },
  "Interface": { "Name": "ipop0", "Mode": "tun", "Mtu": $MTU, "Addresses": ["198.19.0.$me/24"] },
  "Peers": [ { "Id": "p", "PublicKey": "$pk", "Endpoint": "198.18.0.$peer:51820", "AllowedIps": ["198.19.0.$peer/32"] } ],
  "StatusIntervalSeconds": 0 }
J
  done
  ip netns exec "$A" $IPOP run --config "$WORK/a.json" > "$WORK/ia.log" 2>&1 & PIDS+=($!)
  ip netns exec "$B" $IPOP run --config "$WORK/b.json" > "$WORK/ib.log" 2>&1 & PIDS+=($!)
  for _ in $(seq 1 100); do grep -q ready "$WORK/ia.log" 2>/dev/null && grep -q ready "$WORK/ib.log" 2>/dev/null && break; sleep 0.2; done
  iperf 198.19.0.2; cleanup_pair
}

bench_wg() {
  command -v wireguard-go >/dev/null || { echo 0; return; }
  new_pair w
  local ka kb pa pb; ka=$(wg genkey); kb=$(wg genkey); pa=$(echo "$ka" | wg pubkey); pb=$(echo "$kb" | wg pubkey)
  WG_PROCESS_FOREGROUND=1 ip netns exec "$A" wireguard-go -f wga >/dev/null 2>&1 & PIDS+=($!)
  WG_PROCESS_FOREGROUND=1 ip netns exec "$B" wireguard-go -f wgb >/dev/null 2>&1 & PIDS+=($!)
  sleep 1
  ip netns exec "$A" wg set wga private-key <(echo "$ka") listen-port 51820 peer "$pb" allowed-ips 198.19.0.2/32 endpoint 198.18.0.2:51820
  ip netns exec "$B" wg set wgb private-key <(echo "$kb") listen-port 51820 peer "$pa" allowed-ips 198.19.0.1/32 endpoint 198.18.0.1:51820
  ip -n "$A" addr add 198.19.0.1/24 dev wga; ip -n "$A" link set wga up mtu "$MTU"
  ip -n "$B" addr add 198.19.0.2/24 dev wgb; ip -n "$B" link set wgb up mtu "$MTU"
  iperf 198.19.0.2; cleanup_pair
}

bench_nebula() {
  command -v nebula >/dev/null || { echo 0; return; }
  new_pair n
  local d="$WORK/neb"; rm -rf "$d"; mkdir -p "$d"
  (cd "$d" && nebula-cert ca -name t >/dev/null && nebula-cert sign -name a -ip 198.19.0.1/24 >/dev/null && nebula-cert sign -name b -ip 198.19.0.2/24 >/dev/null)
  for n in a b; do
    if [ $n = a ]; then lh="am_lighthouse: true"; else lh="am_lighthouse: false
  hosts: ['198.19.0.1']"; fi
    cat > "$d/$n.yml" <<Y
pki: {ca: $d/ca.crt, cert: $d/$n.crt, key: $d/$n.key}
static_host_map: {'198.19.0.1': ['198.18.0.1:4242']}
lighthouse:
  $lh
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: true}
tun: {dev: neb$n, mtu: $MTU}
logging: {level: error}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
Y
  done
  ip netns exec "$A" nebula -config "$d/a.yml" >/dev/null 2>&1 & PIDS+=($!)
  ip netns exec "$B" nebula -config "$d/b.yml" >/dev/null 2>&1 & PIDS+=($!)
  sleep 2
  iperf 198.19.0.2; cleanup_pair
}

declare -A results
for r in $(seq 1 "$ROUNDS"); do
  for t in veth ipop wg nebula; do
    v=$(bench_$t); results[$t]="${results[$t]:-} $v"
    echo "round $r: $t $v Mbit/s" >&2
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
veth=$(echo "${results[veth]}" | median); ipop=$(echo "${results[ipop]}" | median)
wg=$(echo "${results[wg]}" | median); neb=$(echo "${results[nebula]}" | median)
ratio() { python3 -c "print(f'{($1)/($2):.2f}x' if $2 else 'n/a')"; }
echo
echo "| tunnel (iperf3 TCP, ${T}s, MTU $MTU, median of $ROUNDS) | Mbit/s | vs wireguard-go |"
echo "|---|---:|---:|"
echo "| plain veth (ceiling) | $veth | $(ratio "$veth" "$wg") |"
echo "| Ipop (ipop-tincan) | $ipop | $(ratio "$ipop" "$wg") |"
echo "| wireguard-go | $wg | 1.00x |"
echo "| nebula | $neb | $(ratio "$neb" "$wg") |"
