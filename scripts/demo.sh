#!/usr/bin/env bash
# Sets up the machine (apt), builds Ipop, and shows it working in network namespaces:
#   1. two nodes, an encrypted Tincan link over UDP between real TUN devices: ping (IPv4, IPv6) and iperf3,
#      then the same in switch mode (TAP): ARP and ping across the overlay;
#   2. GroupVPN: prosody, coturn, three nodes behind a cone NAT, a symmetric NAT and none; ping matrix, path
#      kinds, iperf3; then switch mode with two "containers" behind Linux bridges on two nodes;
#   3. SocialVPN: alice-bob and bob-carol are friends, alice-carol are not; each user's view and reachability.
# Everything it creates (namespaces, processes, devices, temp files) is removed on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== building (Release)"
dotnet build Ipop.sln -c Release -v q -nologo -clp:ErrorsOnly
# The hosts as they ship: Native AOT binaries (artifacts/publish/<name>/<name>); IPOP_HOSTS=jit uses the JIT build.
if [ "${IPOP_HOSTS:-}" = jit ]; then
  HOST="dotnet $(pwd)/tools/Ipop.TincanHost/bin/Release/net10.0/ipop-tincan.dll"
else
  echo "== publishing the hosts (Native AOT)"
  bash scripts/publish.sh
  HOST="$(pwd)/artifacts/publish/ipop-tincan/ipop-tincan"
fi
echo "   ipop-tincan: $HOST"

A="ipd$$-a"; B="ipd$$-b"; DIR=$(mktemp -d); PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  sleep 0.5
  for ns in "$A" "$B"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del "$ns" 2>/dev/null; done
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

ip netns add "$A"; ip netns add "$B"
ip link add eth0 netns "$A" type veth peer name eth0 netns "$B"
ip -n "$A" addr add 198.18.0.1/24 dev eth0; ip -n "$A" link set eth0 up; ip -n "$A" link set lo up
ip -n "$B" addr add 198.18.0.2/24 dev eth0; ip -n "$B" link set eth0 up; ip -n "$B" link set lo up
echo "== underlay: $A (198.18.0.1) <-veth-> $B (198.18.0.2)"

KA=$($HOST genkey --key "$DIR/a.key"); KB=$($HOST genkey --key "$DIR/b.key")
echo "   node a public key $KA"
echo "   node b public key $KB"

start_pair() { # mode addrA addrB allowedA allowedB macA macB
  local mode=$1
  cat > "$DIR/a.json" <<J
{ "Tincan": { "ListenPort": 51820, "PrivateKeyPath": "$DIR/a.key" },
  "Interface": { "Name": "ipop0", "Mode": "$mode", "Mtu": 1420, "Addresses": [$2], "MacAddress": "$6" },
  "Peers": [ { "Id": "b", "PublicKey": "$KB", "Endpoint": "198.18.0.2:51820", "AllowedIps": [$5] } ],
  "StatusIntervalSeconds": 0 }
J
  cat > "$DIR/b.json" <<J
{ "Tincan": { "ListenPort": 51820, "PrivateKeyPath": "$DIR/b.key" },
  "Interface": { "Name": "ipop0", "Mode": "$mode", "Mtu": 1420, "Addresses": [$3], "MacAddress": "$7" },
  "Peers": [ { "Id": "a", "PublicKey": "$KA", "Endpoint": "198.18.0.1:51820", "AllowedIps": [$4] } ],
  "StatusIntervalSeconds": 0 }
J
  ip netns exec "$A" $HOST run --config "$DIR/a.json" > "$DIR/a.log" 2>&1 & PIDS+=($!)
  ip netns exec "$B" $HOST run --config "$DIR/b.json" > "$DIR/b.log" 2>&1 & PIDS+=($!)
  for i in $(seq 1 100); do
    grep -q "ready" "$DIR/a.log" 2>/dev/null && grep -q "ready" "$DIR/b.log" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "nodes did not start:"; cat "$DIR/a.log" "$DIR/b.log"; exit 1
}
stop_pair() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; PIDS=(); }

echo; echo "== 1a. TUN mode (layer 3): 198.19.0.1 <-> 198.19.0.2, 2001:2:0:1::1 <-> 2001:2:0:1::2"
start_pair tun '"198.19.0.1/24","2001:2:0:1::1/64"' '"198.19.0.2/24","2001:2:0:1::2/64"' \
  '"198.19.0.1/32","2001:2:0:1::1/128"' '"198.19.0.2/32","2001:2:0:1::2/128"' "" ""
echo "-- ping a -> b (IPv4)";  ip netns exec "$A" ping -n -c 3 -i 0.2 -w 10 198.19.0.2 | tail -2
echo "-- ping b -> a (IPv6)";  ip netns exec "$B" ping -n -c 3 -i 0.2 -w 10 2001:2:0:1::1 | tail -2
echo "-- iperf3 TCP a -> b, 3 s"
ip netns exec "$B" iperf3 -s -1 -D -B 198.19.0.2 >/dev/null; sleep 0.5
ip netns exec "$A" iperf3 -c 198.19.0.2 -t 3 -f m | grep -E "sender|receiver"
echo "-- what node a logged:"; grep -E "ready|link b" "$DIR/a.log" | sed 's/^/   /'
stop_pair

echo; echo "== 1b. TAP mode (switch, layer 2): 198.19.1.1 <-> 198.19.1.2 over Ethernet frames"
start_pair tap '"198.19.1.1/24"' '"198.19.1.2/24"' '' '' "02:00:00:00:01:01" "02:00:00:00:01:02"
echo "-- ping a -> b";  ip netns exec "$A" ping -n -c 3 -i 0.2 -w 10 198.19.1.2 | tail -2
echo "-- a's ARP entry for b, learned across the overlay:"; ip -n "$A" neigh show dev ipop0 | sed 's/^/   /'
stop_pair
cleanup; trap - EXIT INT TERM

echo
dotnet "$(pwd)/tools/Ipop.Demo/bin/Release/net10.0/ipop-demo.dll"
echo; echo "== demo finished"
