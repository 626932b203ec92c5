#!/usr/bin/env bash
# What an idle node costs, in ONE run: Ipop (ipop-tincan, Native AOT), Ipop (ipop-tincan, JIT: the Release build's
# ipop-tincan.dll under dotnet), wireguard-go and nebula, each in namespaces this script creates (198.18.0.0/15 only).
#
# For each tunnel:
#   start    two namespaces A - B joined by a veth (underlay 198.18.0.1 <-> 198.18.0.2, overlay 198.19.0.1 <-> .2).
#            B runs first. Then START_RUNS times: A is started and the clock runs from just before A's process is
#            launched until the first ping from A through the link is answered (pings every 10 ms; each attempt made
#            before A's interface exists fails at once and is retried after 10 ms, so the resolution is ~10-20 ms).
#            For wireguard-go the clock includes what wg-quick does (wg set, ip addr, ip link up); for Ipop and nebula
#            the config file holds everything. All but the last A are stopped again: the last one is the 1-link node.
#            Also the CPU the node's process used until that first ping (utime+stime; for wireguard-go without the
#            wg/ip commands): on a loaded machine the wall-clock time is mostly waiting for a core, this is not.
#   20 links a hub namespace joined by one veth to each of PEERS peer namespaces (underlay 198.18.i.1 <-> 198.18.i.2),
#            overlay hub 198.19.0.1, peers 198.19.0.(10+i); the hub has every peer as a static peer and pings each once
#            through its link. The peers of the Ipop rows run the same build as the hub.
#   idle     after SETTLE seconds, IDLE_SECONDS of no traffic: for the 1-link node A and for the hub,
#            CPU ticks   utime+stime (/proc/PID/stat) over the window, in clock ticks (1/CLK_TCK s);
#            wakeups     voluntary + involuntary context switches over the window, summed over all the process's
#                        threads alive at its end (/proc/PID/task/*/status), each from its count at the start (0 if
#                        born within the window); a thread that ends within the window takes its count along;
#            RSS         VmRSS (/proc/PID/status) at the end of the window, in MiB;
#            threads     Threads (/proc/PID/status) at the end of the window.
#   size     the binary: the AOT executable with the native library it loads (libsodium.so); for the JIT build the assemblies (*.dll) of the Release output (the shared
#            .NET runtime it needs comes on top); wireguard-go and nebula as installed.
# For Ipop the processes' /proc/PID/smaps_rollup at the end of the window is kept in OUT (where the memory is).
#
# Usage (root):
#   bash benchmarks/footprint.sh                                  # everything, IDLE_SECONDS=60, PEERS=20
#   IDLE_SECONDS=20 PEERS=5 TUNNELS="aot wg" bash benchmarks/footprint.sh
#   SKIP_BUILD=1 OUT=/tmp/fp bash benchmarks/footprint.sh         # use the binaries as they are
# Knobs: IDLE_SECONDS (60), PEERS (20, at most 200), TUNNELS (a subset of "aot jit wg nebula"), START_RUNS (5),
# SETTLE (5 s after the last link came up), MTU (1420), OUT (results directory, default a new temp directory),
# AOT_BIN (another AOT executable to measure; with SKIP_BUILD=1).
# Output: the table on stdout and in $OUT/footprint.md; raw numbers in $OUT/footprint.tsv.
# Rules kept: namespaces are named with this shell's PID, addresses are in 198.18.0.0/15 only, every loop is bounded,
# every process this script starts is killed by its PID (and whatever is left in its namespaces) on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
IDLE_SECONDS=${IDLE_SECONDS:-60}; PEERS=${PEERS:-20}; START_RUNS=${START_RUNS:-5}; SETTLE=${SETTLE:-5}; MTU=${MTU:-1420}
TUNNELS=${TUNNELS-aot jit wg nebula}
OUT=${OUT:-$(mktemp -d /tmp/ipop-footprint-XXXXXX)}; mkdir -p "$OUT"
[ "$PEERS" -ge 1 ] && [ "$PEERS" -le 200 ] || { echo "footprint: PEERS must be 1..200" >&2; exit 2; }
AOT_BIN=${AOT_BIN:-$ROOT/artifacts/publish/ipop-tincan/ipop-tincan}
JIT_DIR="$ROOT/tools/Ipop.TincanHost/bin/Release/net10.0"
HZ=$(getconf CLK_TCK)

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  case " $TUNNELS " in *" jit "*) dotnet build tools/Ipop.TincanHost -c Release -v q -nologo -clp:ErrorsOnly ;; esac
  case " $TUNNELS " in *" aot "*)
    if [ -f scripts/publish.sh ]; then bash scripts/publish.sh ipop-tincan
    else dotnet publish tools/Ipop.TincanHost -c Release -r linux-x64 -p:PublishAot=true -p:TreatWarningsAsErrors=false \
           -o artifacts/publish/ipop-tincan -v q -nologo -clp:ErrorsOnly; fi ;;
  esac
fi

umask 077; WORK=$(mktemp -d); NSS=(); PIDS=(); declare -A R=()
kill_pid() { # pid: SIGTERM, up to 3 s to exit, then SIGKILL; forgets the PID so it is never signalled again
  local p=$1 i keep=()
  kill "$p" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true
  for i in "${PIDS[@]:-}"; do [ -n "$i" ] && [ "$i" != "$p" ] && keep+=("$i"); done
  PIDS=("${keep[@]:-}")
}
cleanup() {
  local p ns
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill_pid "$p"; done
  PIDS=()
  for ns in "${NSS[@]:-}"; do
    [ -n "$ns" ] || continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  NSS=()
  return 0
}
trap 'set +e; cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

newns() { ip netns add "$1"; NSS+=("$1"); ip -n "$1" link set lo up; }
link_ns() { # ns-a addr-a ns-b addr-b dev-a dev-b
  ip link add "$5" netns "$1" type veth peer name "$6" netns "$3"
  ip -n "$1" addr add "$2/24" dev "$5"; ip -n "$1" link set "$5" up
  ip -n "$3" addr add "$4/24" dev "$6"; ip -n "$3" link set "$6" up
}
now_ns() { date +%s%N; }

# ping_until ns addr seconds [pid]: 0 once one ping through the link is answered; retries while the interface is
# missing; gives up at the deadline or as soon as process pid (the node being started) has exited.
ping_until() {
  local deadline=$(($(now_ns) + $3 * 1000000000))
  for _ in $(seq 1 2000); do
    ip netns exec "$1" ping -n -q -c 1 -i 0.01 -w 1 "$2" >/dev/null 2>&1 && return 0
    [ "$(now_ns)" -lt "$deadline" ] || return 1
    [ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

ticks_of() { # pid -> utime+stime (fields 14, 15, counted after the ')' of the name)
  local f; f=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || { echo -1; return; }
  set -- $f; echo $((${12} + ${13}))
}
wakeups_of() { # pid -> "tid switches" per live thread (voluntary + involuntary context switches)
  local t
  for t in /proc/"$1"/task/*; do
    awk -v tid="${t##*/}" '/^(voluntary|nonvoluntary)_ctxt_switches:/ { s += $2 } END { if (NR) print tid, s + 0 }' "$t/status" 2>/dev/null
  done
}
# pid, the wakeups_of output at the start -> switches since then of the threads alive now (a thread born meanwhile
# counts from 0). Per thread, so a thread that ends within the window cannot make the sum negative.
wakeups_since() {
  wakeups_of "$1" | awk 'NR == FNR { if (NF == 2) before[$1] = $2; next } { s += $2 - (($1 in before) ? before[$1] : 0) } END { print s + 0 }' <(printf '%s\n' "$2") -
}
status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
median() { python3 -c "import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(round(statistics.median(v)) if v else 'n/a')" "$@"; }

# --- each tunnel: keys/config for node NAME, and a command that starts it in NS (background, PID in $!) ---
ipop_cmd() { if [ "$1" = aot ]; then echo "$AOT_BIN"; else echo "dotnet $JIT_DIR/ipop-tincan.dll"; fi; }
ipop_comm() { if [ "$1" = aot ]; then echo ipop-tincan; else echo dotnet; fi; }
ipop_key() { $(ipop_cmd "$1") genkey --key "$WORK/$2.key"; } # kind name -> public key
ipop_config() { # name overlay-address peers-json
  cat > "$WORK/$1.json" <<J
{ "Tincan": { "ListenPort": 51820, "PrivateKeyPath": "$WORK/$1.key" },
  "Interface": { "Name": "ipop0", "Mode": "tun", "Mtu": $MTU, "Addresses": ["$2/24"] },
  "Peers": [ $3 ], "StatusIntervalSeconds": 0 }
J
}
ipop_peer() { echo "{ \"Id\": \"$1\", \"PublicKey\": \"$2\", \"Endpoint\": \"$3:51820\", \"AllowedIps\": [\"$4/32\"] }"; }
ipop_start() { ip netns exec "$2" $(ipop_cmd "$1") run --config "$WORK/$3.json" > "$WORK/$3.log" 2>&1 & PIDS+=($!); LAST=$!; }

# The device name is also the name of wireguard-go's control socket in /var/run/wireguard, which is NOT per
# namespace: every name is unique to this run.
wg_start() { # ns dev private-key-file address then peers as "pubkey allowed endpoint" lines on stdin
  local ns=$1 dev=$2 args=() k a e
  WG_PROCESS_FOREGROUND=1 ip netns exec "$ns" wireguard-go -f "$dev" >/dev/null 2>&1 & PIDS+=($!); LAST=$!
  for _ in $(seq 1 1000); do ip -n "$ns" link show "$dev" >/dev/null 2>&1 && break; sleep 0.01; done
  while read -r k a e; do args+=(peer "$k" allowed-ips "$a" endpoint "$e"); done
  ip netns exec "$ns" wg set "$dev" private-key "$3" listen-port 51820 "${args[@]}"
  ip -n "$ns" addr add "$4/24" dev "$dev"; ip -n "$ns" link set "$dev" up mtu "$MTU"
}

nebula_certs() { # names...: name=overlay-address
  local d="$WORK/neb" x
  rm -rf "$d"; mkdir -p "$d"
  (cd "$d" && nebula-cert ca -name fp >/dev/null)
  for x in "$@"; do (cd "$d" && nebula-cert sign -name "${x%%=*}" -ip "${x#*=}/24" >/dev/null); done
}
nebula_config() { # name lighthouse-overlay lighthouse-underlay (empty: this node is the lighthouse)
  local d="$WORK/neb" lh
  if [ -z "${2:-}" ]; then lh="am_lighthouse: true"; else lh="am_lighthouse: false
  hosts: ['$2']"; fi
  cat > "$d/$1.yml" <<Y
pki: {ca: $d/ca.crt, cert: $d/$1.crt, key: $d/$1.key}
static_host_map: {$( [ -n "${2:-}" ] && echo "'$2': ['$3:4242']" )}
lighthouse:
  $lh
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: true}
tun: {dev: neb0, mtu: $MTU}
logging: {level: error}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
Y
}
nebula_start() { ip netns exec "$1" nebula -config "$WORK/neb/$2.yml" >/dev/null 2>&1 & PIDS+=($!); LAST=$!; }

# --- the two topologies, for tunnel T (aot jit wg nebula); they leave APID and HUB set ---
pair() { # tunnel
  local t=$1 A="fp$$${t}a" B="fp$$${t}b" ka kb t0 ms=() cpu=() i
  newns "$A"; newns "$B"; link_ns "$A" 198.18.0.1 "$B" 198.18.0.2 ve0 ve1
  case $t in
    aot|jit)
      ka=$(ipop_key "$t" a); kb=$(ipop_key "$t" b)
      ipop_config a 198.19.0.1 "$(ipop_peer b "$kb" 198.18.0.2 198.19.0.2)"
      ipop_config b 198.19.0.2 "$(ipop_peer a "$ka" 198.18.0.1 198.19.0.1)"
      ipop_start "$t" "$B" b ;;
    wg)
      wg genkey > "$WORK/wa.key"; wg genkey > "$WORK/wb.key"
      wg_start "$B" "fp$$wb" "$WORK/wb.key" 198.19.0.2 < <(echo "$(wg pubkey < "$WORK/wa.key") 198.19.0.1/32 198.18.0.1:51820") ;;
    nebula)
      nebula_certs a=198.19.0.1 b=198.19.0.2; nebula_config b; nebula_config a 198.19.0.2 198.18.0.2
      nebula_start "$B" b ;;
  esac
  for i in $(seq 1 "$START_RUNS"); do
    [ -z "${APID:-}" ] || { kill_pid "$APID"; APID=""; sleep 0.2; }
    t0=$(now_ns)
    case $t in
      aot|jit) ipop_start "$t" "$A" a ;;
      wg) wg_start "$A" "fp$$wa" "$WORK/wa.key" 198.19.0.1 < <(echo "$(wg pubkey < "$WORK/wb.key") 198.19.0.2/32 198.18.0.2:51820") ;;
      nebula) nebula_start "$A" a ;;
    esac
    APID=$LAST
    if ping_until "$A" 198.19.0.2 20 "$APID"; then ms+=($((($(now_ns) - t0) / 1000000))); cpu+=("$(ticks_of "$APID")")
    else
      echo "footprint: $t: run $i: no ping through the link within 20 s" >&2
      case $t in aot|jit) head -3 "$WORK/a.log" | sed 's/^/  a.log: /' >&2 ;; esac
      kill -0 "$APID" 2>/dev/null || break
    fi
  done
  R[start_ms,$t]=$(median "${ms[@]:-}"); R[start_all,$t]="${ms[*]:-}"; R[start_ticks,$t]=$(median "${cpu[@]:-}")
}

star() { # tunnel
  local t=$1 H="fp$$${t}h" i P peers="" key
  newns "$H"
  for i in $(seq 1 "$PEERS"); do newns "fp$$${t}p$i"; link_ns "$H" "198.18.$i.1" "fp$$${t}p$i" "198.18.$i.2" "h$i" eth0; done
  case $t in
    aot|jit)
      key=$(ipop_key "$t" h)
      for i in $(seq 1 "$PEERS"); do
        peers+="${peers:+, }$(ipop_peer "p$i" "$(ipop_key "$t" "p$i")" "198.18.$i.2" "198.19.0.$((10 + i))")"
        ipop_config "p$i" "198.19.0.$((10 + i))" "$(ipop_peer h "$key" "198.18.$i.1" 198.19.0.1)"
        ipop_start "$t" "fp$$${t}p$i" "p$i"
      done
      ipop_config h 198.19.0.1 "$peers"; ipop_start "$t" "$H" h ;;
    wg)
      wg genkey > "$WORK/wh.key"
      for i in $(seq 1 "$PEERS"); do
        wg genkey > "$WORK/wp$i.key"
        wg_start "fp$$${t}p$i" "fp$$w$i" "$WORK/wp$i.key" "198.19.0.$((10 + i))" < <(echo "$(wg pubkey < "$WORK/wh.key") 198.19.0.1/32 198.18.$i.1:51820")
      done
      for i in $(seq 1 "$PEERS"); do echo "$(wg pubkey < "$WORK/wp$i.key") 198.19.0.$((10 + i))/32 198.18.$i.2:51820"; done > "$WORK/wh.peers"
      wg_start "$H" "fp$$wh" "$WORK/wh.key" 198.19.0.1 < "$WORK/wh.peers" ;;
    nebula)
      local certs=(h=198.19.0.1); for i in $(seq 1 "$PEERS"); do certs+=("p$i=198.19.0.$((10 + i))"); done
      nebula_certs "${certs[@]}"; nebula_config h; nebula_start "$H" h
      for i in $(seq 1 "$PEERS"); do nebula_config "p$i" 198.19.0.1 "198.18.$i.1"; nebula_start "fp$$${t}p$i" "p$i"; done ;;
  esac
  HUB=$LAST
  R[star_up,$t]=0
  for i in $(seq 1 "$PEERS"); do
    if ping_until "$H" "198.19.0.$((10 + i))" 30 "$HUB"; then R[star_up,$t]=$((${R[star_up,$t]} + 1))
    else echo "footprint: $t: hub: no ping through the link to peer $i within 30 s" >&2; fi
  done
}

idle() { # tunnel: both APID (1 link) and HUB (PEERS links) idle over the same window
  local t=$1 c0a c0h w0a w0h
  sleep "$SETTLE"
  c0a=$(ticks_of "$APID"); c0h=$(ticks_of "$HUB"); w0a=$(wakeups_of "$APID"); w0h=$(wakeups_of "$HUB")
  sleep "$IDLE_SECONDS"
  R[ticks1,$t]=$(($(ticks_of "$APID") - c0a)); R[ticksN,$t]=$(($(ticks_of "$HUB") - c0h))
  R[wake1,$t]=$(wakeups_since "$APID" "$w0a"); R[wakeN,$t]=$(wakeups_since "$HUB" "$w0h")
  R[rss1,$t]=$(awk '{ printf "%.1f", $1 / 1024 }' <<< "$(status_field "$APID" VmRSS)")
  R[rssN,$t]=$(awk '{ printf "%.1f", $1 / 1024 }' <<< "$(status_field "$HUB" VmRSS)")
  R[thr1,$t]=$(status_field "$APID" Threads); R[thrN,$t]=$(status_field "$HUB" Threads)
  case $t in aot|jit)
    cat "/proc/$APID/smaps_rollup" > "$OUT/smaps-$t-1link.txt" 2>/dev/null || true
    cat "/proc/$HUB/smaps_rollup" > "$OUT/smaps-$t-${PEERS}links.txt" 2>/dev/null || true ;;
  esac
}

size_of() { # tunnel -> MB
  case $1 in
    aot) du -cb "$AOT_BIN" "$(dirname "$AOT_BIN")"/*.so 2>/dev/null | tail -1 | cut -f1 ;; # with libsodium.so
    jit) du -cb "$JIT_DIR"/*.dll | tail -1 | cut -f1 ;; # the assemblies it loads (not runtimes/ of other platforms)
    wg) stat -c %s "$(command -v wireguard-go)" ;;
    nebula) stat -c %s "$(command -v nebula)" ;;
  esac | awk '{ printf "%.1f", $1 / 1048576 }'
}

available() { # tunnel -> 0 if its binary is there
  case $1 in
    aot) [ -x "$AOT_BIN" ] ;; jit) [ -f "$JIT_DIR/ipop-tincan.dll" ] ;;
    wg) command -v wireguard-go >/dev/null && command -v wg >/dev/null ;;
    nebula) command -v nebula >/dev/null && command -v nebula-cert >/dev/null ;;
    *) echo "footprint: unknown tunnel $1 (aot jit wg nebula)" >&2; return 1 ;;
  esac
}

START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for t in $TUNNELS; do
  if ! available "$t"; then echo "footprint: $t: not built or not installed, skipped" >&2; R[missing,$t]=1; continue; fi
  APID=""; HUB=""
  pair "$t"; star "$t"
  if [ -n "$APID" ] && kill -0 "$APID" 2>/dev/null && kill -0 "$HUB" 2>/dev/null; then idle "$t"
  else echo "footprint: $t: a measured process died" >&2; fi
  R[size,$t]=$(size_of "$t")
  cleanup
  echo "footprint: $t done" >&2
done

name() { case $1 in aot) echo "Ipop (AOT)" ;; jit) echo "Ipop (JIT)" ;; wg) echo wireguard-go ;; nebula) echo nebula ;; esac; }
cell() { if [ -n "${R[missing,$2]:-}" ]; then echo "n/a"; else echo "${R[$1,$2]:-?}"; fi; }
{
  echo "Footprint, $START, IDLE_SECONDS=$IDLE_SECONDS, PEERS=$PEERS, START_RUNS=$START_RUNS, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), ipop $(git -C "$ROOT" describe --always --dirty)"
  echo
  printf '| |'; for t in $TUNNELS; do printf ' %s |' "$(name "$t")"; done; echo
  printf '|---|'; for t in $TUNNELS; do printf -- '---:|'; done; echo
  row() { printf '| %s |' "$1"; for t in $TUNNELS; do printf ' %s |' "$(cell "$2" "$t")"; done; echo; }
  row "idle RSS, 1 link (MiB)" rss1
  row "idle RSS, hub of $PEERS links (MiB)" rssN
  row "threads, 1 link" thr1
  row "threads, hub of $PEERS links" thrN
  row "CPU ticks idle over ${IDLE_SECONDS} s, 1 link (1/$HZ s)" ticks1
  row "CPU ticks idle over ${IDLE_SECONDS} s, $PEERS links" ticksN
  row "wakeups (context switches, all threads) over ${IDLE_SECONDS} s, 1 link" wake1
  row "wakeups over ${IDLE_SECONDS} s, $PEERS links" wakeN
  row "start to first ping (ms, median of $START_RUNS)" start_ms
  row "CPU used by the node until its first ping (ticks, median)" start_ticks
  row "links up at the hub (of $PEERS)" star_up
  row "binary (MiB)" size
  echo
  for t in $TUNNELS; do echo "- $(name "$t") start-to-ping runs (ms): $(cell start_all "$t")"; done
} > "$OUT/footprint.md"
for k in "${!R[@]}"; do printf '%s\t%s\n' "$k" "${R[$k]}"; done | sort > "$OUT/footprint.tsv"
cat "$OUT/footprint.md"
echo
echo "results: $OUT/footprint.md"
