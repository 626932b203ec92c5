#!/usr/bin/env bash
# Ipop against wireguard-go and nebula in ONE run, on the same kind of namespace pair (two namespaces joined by a
# veth, underlay 198.18.0.1 <-> 198.18.0.2, overlay 198.19.0.1 <-> 198.19.0.2, MTU $MTU for every tunnel):
#   plain veth (the ceiling), Ipop (ipop-tincan, TUN, static peer), wireguard-go (userspace WireGuard), nebula.
# Each round sets up every tunnel in turn and measures, through it, in this order:
#   latency  ping RTT through the idle link: 100 pings at 0.05 s after 3 warm-up pings; the median RTT (ms).
#   TCP      iperf3 TCP, T seconds, one stream: Mbit/s received (iperf3 sum_received).
#   CPU      utime+stime of BOTH tunnel processes of the pair (/proc/PID/stat; the PIDs are the processes
#            themselves: `ip netns exec` execs the command, `dotnet ipop-tincan.dll` is one process, wireguard-go
#            runs in the foreground with WG_PROCESS_FOREGROUND=1 and -f), read just before and just after the
#            TCP run, divided by the GB (1e9 bytes) iperf3 received: CPU seconds per GB carried. Not for veth.
#   UDP      iperf3 -u -b 0 -l 1380 (unlimited offered rate, 1380-byte datagrams = 1408-byte IP packets, under
#            the MTU): Mbit/s received and loss % as the receiving iperf3 counted them.
# The table shows the median over ROUNDS of each number (and the ratios Ipop / wireguard-go, Ipop / nebula).
#
# Relayed (RELAY=1, the default): three namespaces A - T - B. T runs coturn (Debian's turnserver, UDP only,
# listening and relaying on 198.18.3.1, a /32 on T's loopback) and does not forward, so A (198.18.1.2) and B
# (198.18.2.2) can reach coturn but never each other: the only path between them goes through coturn.
#   coturn alone (no tunnel): turnutils_uclient in A, 50 clients, TURN channels, 1380-byte messages sent as fast as
#     its timers allow (-z 0), to turnutils_peer (a UDP echo server) in B; each message crosses coturn to B and its
#     echo crosses coturn back. Measured over T seconds (once coturn forwards, +1 s), from the packet
#     counters of T's two veths: relayed Mbit/s = packets coturn sent towards B x 1380 bytes x 8 / T (the relayed
#     payload, one direction); offered Mbit/s = the same for packets A sent to coturn; loss % = 1 - relayed/offered.
#     With these options uclient offers more than coturn forwards on a 2-core machine (loss % > 0), so the relayed
#     Mbit/s is what coturn forwards under a UDP flood from 50 allocations (it drops the rest, which also costs it
#     CPU); if loss is 0 the client was the limit and the number is only a floor. A paced TCP flow through one
#     allocation (Ipop relayed below) can come out above it.
#     coturn CPU s/GB: turnserver's utime+stime over the window per GB it relayed towards B (the echoes cost the
#     same again on the way back, so per GB of one-way payload this counts about half of coturn's work).
#   Ipop relayed: ipop-tincan in A and B with only the controller API and coturn as TURN (and STUN) server,
#     linked by samples/python-controller/ipop_controller.py pair (descriptors exchanged, ICE checks run);
#     host and server-reflexive pairs cannot work, so ICE picks a relayed pair; the path and candidate pair the
#     link reports are recorded (in trials: one node's host candidate and the other's relay candidate, either way
#     round, i.e. each packet crosses coturn once through one allocation: the same single relay hop as the
#     uclient -> peer direction above). Then iperf3 TCP through it for T seconds: Mbit/s received, CPU s/GB of the
#     two ipop-tincan processes, and coturn's CPU s/GB of that run (per GB iperf3 received; TCP ACKs are relayed
#     back too).
#
# Variants (VARIANTS=1): Ipop TCP (and CPU/GB) again with the data-plane techniques switched on one at a time through
# ipop-tincan's config: all off (Tincan:UdpBatchSize 1, UdpSegmentationOffload/UdpReceiveOffload false,
# Interface:Offload false); + batching (UdpBatchSize 64); + UDP GSO/GRO; + TUN TSO/GRO (all on). A node that
# refuses to start (a build without these keys rejects them) is reported as "refused" with its error line.
#
# Output: the tables on stdout, and $OUT/results.json (OUT defaults to a new temp directory; the path is printed)
# with medians, per-round samples and the run's metadata. benchmarks/chart.py turns that JSON into an SVG.
# Usage (root):
#   bash benchmarks/throughput.sh                          # T=5 s per iperf3 run, ROUNDS=1, relayed row, no variants
#   T=10 ROUNDS=3 VARIANTS=1 OUT=/tmp/bench bash benchmarks/throughput.sh
#   SKIP_SETUP=1 SKIP_BUILD=1 RELAY=0 T=3 bash benchmarks/throughput.sh   # quick look
#   TUNNELS="ipop wg" RELAY=0 bash benchmarks/throughput.sh                # a subset of veth ipop wg nebula
# Rules kept: namespaces are named with this shell's PID, addresses are in 198.18.0.0/15 only, every process this
# script starts is killed by its PID (and whatever is left in its namespaces) on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
T=${T:-5}; ROUNDS=${ROUNDS:-1}; MTU=${MTU:-1420}; RELAY=${RELAY:-1}; VARIANTS=${VARIANTS:-0}
TUNNELS=${TUNNELS-veth ipop wg nebula}
OUT=${OUT:-$(mktemp -d /tmp/ipop-bench-XXXXXX)}; mkdir -p "$OUT"
# scripts/setup.sh installs everything this needs (iperf3, coturn, wireguard-go, wireguard-tools, nebula, python3)
# with its guard against system-wide daemons being started by the install; with SKIP_SETUP=1 it still runs when a
# tool is missing.
missing=0
for c in iperf3 turnserver turnutils_uclient turnutils_peer wireguard-go wg nebula nebula-cert python3 ping; do
  command -v "$c" >/dev/null || missing=1
done
if [ "${SKIP_SETUP:-0}" != 1 ] || [ "$missing" = 1 ]; then bash scripts/setup.sh; fi
[ "${SKIP_BUILD:-0}" = 1 ] || dotnet build tools/Ipop.TincanHost -c Release -v q -nologo -clp:ErrorsOnly
IPOP="dotnet $ROOT/tools/Ipop.TincanHost/bin/Release/net10.0/ipop-tincan.dll"
CONTROLLER="$ROOT/samples/python-controller/ipop_controller.py"
HZ=$(getconf CLK_TCK)
WORK=$(mktemp -d); A=""; B=""; TNS=""; TURN_PID=""; PIDS=(); TPIDS=(); SAMPLES="$OUT/samples.jsonl"; : > "$SAMPLES"

cleanup_pair() {
  local p ns
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do # SIGTERM, up to 3 s to exit (ipop-tincan needs < 2 s), then SIGKILL
    [ -n "$p" ] || continue
    for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true
  done
  PIDS=(); TPIDS=()
  for ns in $A $B $TNS; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  A=""; B=""; TNS=""
  return 0
}
trap 'set +e; cleanup_pair; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# sample ROUND TUNNEL METRIC VALUE [NOTE]: one measurement, a JSON line for the final summary.
sample() {
  python3 - "$@" >> "$SAMPLES" <<'PY'
import json, sys
a = sys.argv[1:]
v = a[3]
try: v = float(v)
except ValueError: v = None
print(json.dumps({"round": int(a[0]), "tunnel": a[1], "metric": a[2], "value": v, "note": a[4] if len(a) > 4 else None}))
PY
}

new_pair() { # underlay 198.18.0.1 <-> 198.18.0.2
  A="ipb$$a$1"; B="ipb$$b$1"
  ip netns add "$A"; ip netns add "$B"
  ip link add ve0 netns "$A" type veth peer name ve1 netns "$B"
  ip -n "$A" addr add 198.18.0.1/24 dev ve0; ip -n "$A" link set ve0 up; ip -n "$A" link set lo up
  ip -n "$B" addr add 198.18.0.2/24 dev ve1; ip -n "$B" link set ve1 up; ip -n "$B" link set lo up
}

# The tunnel processes whose CPU is counted: the PIDs must be the processes themselves, checked by name.
set_tunnel_pids() { # expected-comm pid...
  local want=$1; shift; TPIDS=()
  for p in "$@"; do
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$want" ]; then TPIDS+=("$p")
    else echo "bench: pid $p is not $want ($(cat "/proc/$p/comm" 2>/dev/null || echo gone)); CPU not counted" >&2; TPIDS=(); return 0; fi
  done
}
cpu_ticks() { ticks_of "${TPIDS[@]:-}"; } # of the tunnel processes
ticks_of() { # pid... -> utime+stime in clock ticks (fields 14 and 15, counted after the ')' of the name); -1 if one is gone
  local sum=0 p f
  for p in "$@"; do
    [ -n "$p" ] || continue
    f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || { echo -1; return; }
    set -- $f; sum=$((sum + ${12} + ${13}))
  done
  echo "$sum"
}

reachable() { ip netns exec "$A" ping -c 3 -i 0.2 -w 10 "$1" >/dev/null 2>&1; }

m_latency() { # round tunnel address
  local out
  out=$(ip netns exec "$A" ping -n -c 100 -i 0.05 -w 30 "$3" 2>/dev/null || true)
  sample "$1" "$2" rtt_ms "$(echo "$out" | python3 -c "
import re,statistics,sys
t=[float(x) for x in re.findall(r'time=([0-9.]+) ms', sys.stdin.read())]
print(round(statistics.median(t),3) if t else 'nan')")"
}

m_tcp() { # round tunnel address [cpu]
  local before after
  ip netns exec "$B" iperf3 -s -1 -D -B "$3" >/dev/null; sleep 0.5
  before=$(cpu_ticks)
  ip netns exec "$A" iperf3 -c "$3" -t "$T" -J > "$WORK/tcp.json" 2>/dev/null || echo '{}' > "$WORK/tcp.json"
  after=$(cpu_ticks)
  read -r mbps bytes < <(python3 -c "
import json
try: s=json.load(open('$WORK/tcp.json'))['end']['sum_received']; print(s['bits_per_second']/1e6, s['bytes'])
except Exception: print('nan 0')")
  sample "$1" "$2" tcp_mbps "$mbps"
  if [ "${4:-}" = cpu ] && [ ${#TPIDS[@]} -gt 0 ] && [ "$before" -ge 0 ] && [ "$after" -ge 0 ] && [ "$bytes" != 0 ]; then
    sample "$1" "$2" cpu_s_per_gb "$(python3 -c "print(($after-$before)/$HZ/($bytes/1e9))")"
  fi
}

m_udp() { # round tunnel address
  ip netns exec "$B" iperf3 -s -1 -D -B "$3" >/dev/null; sleep 0.5
  ip netns exec "$A" iperf3 -c "$3" -u -b 0 -l 1380 -t "$T" -J > "$WORK/udp.json" 2>/dev/null || echo '{}' > "$WORK/udp.json"
  read -r mbps loss < <(python3 -c "
import json
try: s=json.load(open('$WORK/udp.json'))['end']['sum_received']; print(s['bits_per_second']/1e6, s['lost_percent'])
except Exception: print('nan nan')")
  sample "$1" "$2" udp_mbps "$mbps"; sample "$1" "$2" udp_loss_pct "$loss"
}

measure_all() { # round tunnel address
  if ! reachable "$3"; then echo "bench: round $1: $2 not reachable, skipped" >&2; sample "$1" "$2" tcp_mbps nan "not reachable"; return; fi
  m_latency "$@"; m_tcp "$@" cpu; m_udp "$@"
}

# --- the tunnels: each sets up a pair, starts the tunnel, leaves PIDS/TPIDS set ---
ipop_config() { # node-letter extra-tincan-json extra-interface-json
  local n=$1 me peer pk
  if [ "$n" = a ]; then me=1; peer=2; pk=$IPOP_KB; else me=2; peer=1; pk=$IPOP_KA; fi
  cat > "$WORK/$n.json" <<J
{ "Tincan": { "ListenPort": 51820, "PrivateKeyPath": "$WORK/$n.key"$2 },
  "Interface": { "Name": "ipop0", "Mode": "tun", "Mtu": $MTU, "Addresses": ["198.19.0.$me/24"]$3 },
  "Peers": [ { "Id": "p", "PublicKey": "$pk", "Endpoint": "198.18.0.$peer:51820", "AllowedIps": ["198.19.0.$peer/32"] } ],
  "StatusIntervalSeconds": 0 }
J
}

up_ipop() { # [extra-tincan-json extra-interface-json]; returns 1 (with the reason in $WORK/refused) if a node exits
  new_pair i
  rm -f "$WORK"/[ab].key "$WORK/refused"
  IPOP_KA=$($IPOP genkey --key "$WORK/a.key"); IPOP_KB=$($IPOP genkey --key "$WORK/b.key")
  ipop_config a "${1:-}" "${2:-}"; ipop_config b "${1:-}" "${2:-}"
  ip netns exec "$A" $IPOP run --config "$WORK/a.json" > "$WORK/ia.log" 2>&1 & PIDS+=($!)
  ip netns exec "$B" $IPOP run --config "$WORK/b.json" > "$WORK/ib.log" 2>&1 & PIDS+=($!)
  for _ in $(seq 1 150); do
    grep -q ready "$WORK/ia.log" 2>/dev/null && grep -q ready "$WORK/ib.log" 2>/dev/null && break
    for p in "${PIDS[@]}"; do
      kill -0 "$p" 2>/dev/null || { grep -h -m1 'ipop-tincan' "$WORK/ia.log" "$WORK/ib.log" | head -1 | sed 's/ [ab]\.json:/ node.json:/' > "$WORK/refused"; return 1; }
    done
    sleep 0.2
  done
  set_tunnel_pids dotnet "${PIDS[@]}"
}

up_wg() {
  command -v wireguard-go >/dev/null || return 1
  new_pair w
  local ka kb pa pb; ka=$(wg genkey); kb=$(wg genkey); pa=$(echo "$ka" | wg pubkey); pb=$(echo "$kb" | wg pubkey)
  WG_PROCESS_FOREGROUND=1 ip netns exec "$A" wireguard-go -f wga >/dev/null 2>&1 & PIDS+=($!)
  WG_PROCESS_FOREGROUND=1 ip netns exec "$B" wireguard-go -f wgb >/dev/null 2>&1 & PIDS+=($!)
  for _ in $(seq 1 50); do ip -n "$A" link show wga >/dev/null 2>&1 && ip -n "$B" link show wgb >/dev/null 2>&1 && break; sleep 0.1; done
  ip netns exec "$A" wg set wga private-key <(echo "$ka") listen-port 51820 peer "$pb" allowed-ips 198.19.0.2/32 endpoint 198.18.0.2:51820
  ip netns exec "$B" wg set wgb private-key <(echo "$kb") listen-port 51820 peer "$pa" allowed-ips 198.19.0.1/32 endpoint 198.18.0.1:51820
  ip -n "$A" addr add 198.19.0.1/24 dev wga; ip -n "$A" link set wga up mtu "$MTU"
  ip -n "$B" addr add 198.19.0.2/24 dev wgb; ip -n "$B" link set wgb up mtu "$MTU"
  set_tunnel_pids wireguard-go "${PIDS[@]}"
}

up_nebula() {
  command -v nebula >/dev/null || return 1
  new_pair n
  local d="$WORK/neb" n lh; rm -rf "$d"; mkdir -p "$d"
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
  set_tunnel_pids nebula "${PIDS[@]}"
}

bench_veth() { new_pair v; ip -n "$A" link set ve0 mtu "$MTU"; ip -n "$B" link set ve1 mtu "$MTU"; measure_all "$1" veth 198.18.0.2; cleanup_pair; }
bench_ipop() { if up_ipop; then measure_all "$1" ipop 198.19.0.2; else sample "$1" ipop tcp_mbps nan "$(cat "$WORK/refused")"; fi; cleanup_pair; }
bench_wg() { if up_wg; then measure_all "$1" wireguard-go 198.19.0.2; else sample "$1" wireguard-go tcp_mbps nan "not installed"; fi; cleanup_pair; }
bench_nebula() { if up_nebula; then measure_all "$1" nebula 198.19.0.2; else sample "$1" nebula tcp_mbps nan "not installed"; fi; cleanup_pair; }

# --- variants: one data-plane technique at a time (keys land with the data-plane work) ---
VARIANT_NAMES=(all_off batching udp_gso_gro all_on)
variant_keys() { # name -> "tincan-json|interface-json"
  case $1 in
    all_off)     echo ', "UdpBatchSize": 1, "UdpSegmentationOffload": false, "UdpReceiveOffload": false|, "Offload": false' ;;
    batching)    echo ', "UdpBatchSize": 64, "UdpSegmentationOffload": false, "UdpReceiveOffload": false|, "Offload": false' ;;
    udp_gso_gro) echo ', "UdpBatchSize": 64, "UdpSegmentationOffload": true, "UdpReceiveOffload": true|, "Offload": false' ;;
    all_on)      echo ', "UdpBatchSize": 64, "UdpSegmentationOffload": true, "UdpReceiveOffload": true|, "Offload": true' ;;
  esac
}
bench_variant() { # round name
  local k; k=$(variant_keys "$2")
  if up_ipop "${k%%|*}" "${k#*|}"; then
    if reachable 198.19.0.2; then m_tcp "$1" "variant:$2" 198.19.0.2 cpu; else sample "$1" "variant:$2" tcp_mbps nan "not reachable"; fi
  else
    sample "$1" "variant:$2" tcp_mbps nan "refused: $(cat "$WORK/refused")"
  fi
  cleanup_pair
}

# --- relayed through coturn: A - T(coturn, no forwarding) - B ---
new_relay_topology() {
  TNS="ipb$$t"; A="ipb$$ra"; B="ipb$$rb"
  local ns; for ns in $TNS $A $B; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip netns exec "$TNS" sysctl -qw net.ipv4.ip_forward=0
  ip link add ta netns "$TNS" type veth peer name eth0 netns "$A"
  ip link add tb netns "$TNS" type veth peer name eth0 netns "$B"
  ip -n "$TNS" addr add 198.18.1.1/24 dev ta; ip -n "$TNS" addr add 198.18.2.1/24 dev tb; ip -n "$TNS" addr add 198.18.3.1/32 dev lo
  ip -n "$TNS" link set ta up; ip -n "$TNS" link set tb up
  ip -n "$A" addr add 198.18.1.2/24 dev eth0; ip -n "$A" link set eth0 up; ip -n "$A" route add 198.18.3.1/32 via 198.18.1.1
  ip -n "$B" addr add 198.18.2.2/24 dev eth0; ip -n "$B" link set eth0 up; ip -n "$B" route add 198.18.3.1/32 via 198.18.2.1
  mkdir -p "$WORK/turn"
  ip netns exec "$TNS" turnserver -n -v --listening-ip 198.18.3.1 --relay-ip 198.18.3.1 --listening-port 3478 \
    --min-port 49152 --max-port 49400 --realm ipop.bench --no-tls --no-dtls --no-tcp --no-cli --log-file stdout --simple-log \
    --pidfile "$WORK/turn/pid" --userdb "$WORK/turn/db" --lt-cred-mech --user u:p > "$WORK/turn.log" 2>&1 & TURN_PID=$!; PIDS+=($!)
  for _ in $(seq 1 100); do grep -q "UDP listener opened" "$WORK/turn.log" && return 0; sleep 0.1; done
  echo "bench: coturn did not start: $(tail -3 "$WORK/turn.log")" >&2; return 1
}
# coturn's side of each veth: what A offered to it, and what it forwarded towards B.
rx_packets_from_a() { ip netns exec "$TNS" cat /sys/class/net/ta/statistics/rx_packets; }
tx_packets_to_b() { ip netns exec "$TNS" cat /sys/class/net/tb/statistics/tx_packets; }

bench_coturn_baseline() { # round
  local up t0 t1 a0 a1 b0 b1 c0 c1
  ip netns exec "$B" turnutils_peer -L 198.18.2.2 -p 3480 >/dev/null 2>&1 & PIDS+=($!)
  sleep 0.3
  ip netns exec "$A" turnutils_uclient -n 1000000 -l 1380 -z 0 -m 50 -c -X -u u -w p -e 198.18.2.2 -r 3480 198.18.3.1 > "$WORK/uclient.log" 2>&1 & up=$!; PIDS+=($up)
  # Wait (at most 20 s) for the 50 allocations, permissions and channel binds: until coturn forwards traffic.
  b0=$(tx_packets_to_b)
  for _ in $(seq 1 40); do sleep 0.5; [ $(($(tx_packets_to_b) - b0)) -gt 1000 ] && break; done
  sleep 1
  a0=$(rx_packets_from_a); b0=$(tx_packets_to_b); t0=$(date +%s.%N); c0=$(ticks_of "$TURN_PID")
  sleep "$T"
  a1=$(rx_packets_from_a); b1=$(tx_packets_to_b); t1=$(date +%s.%N); c1=$(ticks_of "$TURN_PID")
  kill "$up" 2>/dev/null || true
  if [ "$a1" -gt "$a0" ]; then
    sample "$1" coturn_alone relay_offered_mbps "$(python3 -c "print(($a1-$a0)*1380*8/($t1-$t0)/1e6)")"
    sample "$1" coturn_alone relay_mbps "$(python3 -c "print(($b1-$b0)*1380*8/($t1-$t0)/1e6)")"
    sample "$1" coturn_alone loss_pct "$(python3 -c "print(max(0.0,100*(1-($b1-$b0)/($a1-$a0))))")"
    # coturn's CPU per GB it relayed towards B (each message also comes back as an echo: two relayed GB per GB here)
    [ "$c0" -ge 0 ] && [ "$c1" -ge 0 ] && sample "$1" coturn_alone coturn_cpu_s_per_gb "$(python3 -c "print(($c1-$c0)/$HZ/(($b1-$b0)*1380/1e9))")"
  else
    sample "$1" coturn_alone relay_mbps nan "uclient sent nothing: $(tail -1 "$WORK/uclient.log")"
  fi
}

bench_ipop_relayed() { # round
  local n path
  for n in a b; do
    cat > "$WORK/r$n.json" <<J
{ "Tincan": { "ListenPort": 0, "PrivateKeyPath": "$WORK/r$n.key",
              "StunServers": [ { "Host": "198.18.3.1", "Port": 3478 } ],
              "TurnServers": [ { "Host": "198.18.3.1", "Port": 3478, "Username": "u", "Password": "p" } ] },
  "ControllerApi": { "SocketPath": "$WORK/r$n.sock" }, "StatusIntervalSeconds": 0 }
J
  done
  rm -f "$WORK"/r[ab].sock
  local pa pb c0 c1 bytes
  ip netns exec "$A" $IPOP run --config "$WORK/ra.json" > "$WORK/ra.log" 2>&1 & pa=$!; PIDS+=($pa)
  ip netns exec "$B" $IPOP run --config "$WORK/rb.json" > "$WORK/rb.log" 2>&1 & pb=$!; PIDS+=($pb)
  for _ in $(seq 1 150); do [ -S "$WORK/ra.sock" ] && [ -S "$WORK/rb.sock" ] && break; sleep 0.2; done
  if ! timeout 60 python3 "$CONTROLLER" pair --a "$WORK/ra.sock" --b "$WORK/rb.sock" --a-id a --b-id b \
        --a-address 198.19.0.1/24 --b-address 198.19.0.2/24 --mtu "$MTU" --timeout 40 --quiet > "$WORK/pair.log" 2>&1; then
    sample "$1" ipop_relayed tcp_mbps nan "link did not connect: $(tail -1 "$WORK/pair.log")"; return
  fi
  # The path and the candidate pair A's link uses (relay = through a TURN allocation, host/srflx = not).
  path=$(timeout 20 python3 - "$ROOT/samples/python-controller" "$WORK/ra.sock" 2>/dev/null <<'PY' || true
import sys
sys.path.insert(0, sys.argv[1])
from ipop_controller import TincanClient
with TincanClient(sys.argv[2]) as c:
    l = c.query_link("b")
    s = l["stats"]
    cand = lambda x: f"{x['type']} {x['addr']}:{x['port']}" if x else "?"
    print(f"{l['state']} {l['path']}, local {cand(s.get('local_candidate'))}, remote {cand(s.get('remote_candidate'))}")
PY
)
  echo "bench: round $1: Ipop relayed link: $path" >&2
  if ! reachable 198.19.0.2; then sample "$1" ipop_relayed tcp_mbps nan "not reachable"; return; fi
  set_tunnel_pids dotnet "$pa" "$pb"
  c0=$(ticks_of "$TURN_PID")
  m_tcp "$1" ipop_relayed 198.19.0.2 cpu
  c1=$(ticks_of "$TURN_PID")
  bytes=$(python3 -c "
import json
try: print(json.load(open('$WORK/tcp.json'))['end']['sum_received']['bytes'])
except Exception: print(0)")
  [ "$c0" -ge 0 ] && [ "$c1" -ge 0 ] && [ "$bytes" != 0 ] && sample "$1" ipop_relayed coturn_cpu_s_per_gb "$(python3 -c "print(($c1-$c0)/$HZ/($bytes/1e9))")"
  sample "$1" ipop_relayed path 0 "$path"
}

bench_relayed() { # round
  if ! command -v turnserver >/dev/null || ! command -v turnutils_uclient >/dev/null; then sample "$1" coturn_alone relay_mbps nan "coturn not installed"; return; fi
  if new_relay_topology; then bench_coturn_baseline "$1"; fi
  cleanup_pair
  if new_relay_topology; then bench_ipop_relayed "$1"; fi
  cleanup_pair
}

START=$(date -u +%Y-%m-%dT%H:%M:%SZ); LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
  for t in $TUNNELS; do bench_$t "$r"; echo "bench: round $r: $t done" >&2; done
  if [ "$RELAY" = 1 ]; then bench_relayed "$r"; echo "bench: round $r: relayed done" >&2; fi
  if [ "$VARIANTS" = 1 ]; then
    for v in "${VARIANT_NAMES[@]}"; do bench_variant "$r" "$v"; echo "bench: round $r: variant $v done" >&2; done
  fi
done

META=$(python3 -c "
import json,os,subprocess,sys
def ver(cmd):
    try: return subprocess.run(cmd,capture_output=True,text=True,timeout=10).stdout.strip().splitlines()[0]
    except Exception: return None
def pkg(p):
    try: return subprocess.run(['dpkg-query','-W','-f=\${Version}',p],capture_output=True,text=True,timeout=10).stdout.strip() or None
    except Exception: return None
print(json.dumps({'started':'$START','finished':__import__('datetime').datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ'),
  'T_seconds':$T,'rounds':$ROUNDS,'mtu':$MTU,'variants':$VARIANTS==1,'relay':$RELAY==1,'cpus':os.cpu_count(),
  'load_start':'$LOAD0','load_end':' '.join(open('/proc/loadavg').read().split()[:3]),
  'versions':{'wireguard-go':pkg('wireguard-go'),'nebula':pkg('nebula'),'iperf3':pkg('iperf3'),'coturn':pkg('coturn'),
              'ipop':ver(['git','-C','$ROOT','describe','--always','--dirty'])}}))")
python3 "$ROOT/benchmarks/summarize.py" "$SAMPLES" "$OUT/results.json" "$META"
echo
echo "results: $OUT/results.json (chart: python3 benchmarks/chart.py $OUT/results.json docs/performance.svg)"
