#!/usr/bin/env python3
"""Turns the samples of benchmarks/throughput.sh into results.json and the Markdown tables it prints.

    summarize.py SAMPLES.jsonl RESULTS.json META-JSON

Every sample is one line {"round", "tunnel", "metric", "value", "note"}; the result holds, per tunnel and metric,
the median over the rounds that produced a number (NaN = not measured), the per-round values, and the notes
(why a tunnel was not measured, the relayed link's path). Standard library only.
"""

import json
import math
import statistics
import sys

TUNNELS = [("veth", "plain veth (ceiling)"), ("ipop", "Ipop (ipop-tincan, TUN)"),
           ("wireguard-go", "wireguard-go"), ("nebula", "nebula")]
VARIANTS = [("all_off", "all off"), ("batching", "+ batching (UdpBatchSize 64)"),
            ("udp_gso_gro", "+ UDP GSO/GRO"), ("all_on", "+ TUN TSO/GRO (all on)")]


def median(values):
    good = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(good) if good else None


def no_nan(x):
    """JSON has no NaN: a value that was not measured is null."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [no_nan(v) for v in x]
    return x


def joined(lines):
    """'round 1: x', 'round 2: x' -> 'rounds 1, 2: x' (the same note every round is said once)."""
    by_text = {}
    for line in lines:
        head, _, text = line.partition(": ")
        by_text.setdefault(text, []).append(head.split()[-1])
    return "; ".join(f"round{'s' if len(r) > 1 else ''} {', '.join(r)}: {t}" for t, r in by_text.items())


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def main():
    samples_path, results_path, meta = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    samples = [json.loads(line) for line in open(samples_path) if line.strip()]
    per = {}
    notes = {}
    for s in samples:
        v = s["value"]
        per.setdefault(s["tunnel"], {}).setdefault(s["metric"], []).append(float("nan") if v is None else v)
        if s.get("note"):
            notes.setdefault(s["tunnel"], []).append(f"round {s['round']}: {s['note']}")
    med = {t: {m: median(vs) for m, vs in ms.items()} for t, ms in per.items()}

    def get(t, m):
        return med.get(t, {}).get(m)

    ipop, wg, neb = get("ipop", "tcp_mbps"), get("wireguard-go", "tcp_mbps"), get("nebula", "tcp_mbps")
    results = {
        "meta": meta,
        "tunnels": {t: med.get(t, {}) for t, _ in TUNNELS},
        "ratios": {"tcp_ipop_vs_wireguard_go": ipop / wg if ipop and wg else None,
                   "tcp_ipop_vs_nebula": ipop / neb if ipop and neb else None,
                   "udp_ipop_vs_wireguard_go": (get("ipop", "udp_mbps") / get("wireguard-go", "udp_mbps"))
                   if get("ipop", "udp_mbps") and get("wireguard-go", "udp_mbps") else None},
        "relayed": {"coturn_alone": med.get("coturn_alone", {}), "ipop_relayed": {
            k: v for k, v in med.get("ipop_relayed", {}).items() if k != "path"}},
        "variants": {name: med[f"variant:{name}"] for name, _ in VARIANTS if f"variant:{name}" in med},
        "notes": notes,
        "per_round": per,
    }
    with open(results_path, "w") as f:
        json.dump(no_nan(results), f, indent=2, allow_nan=False)
        f.write("\n")

    T, rounds, mtu = meta["T_seconds"], meta["rounds"], meta["mtu"]
    print()
    print(f"load {meta['load_start']} -> {meta['load_end']} on {meta['cpus']} CPUs; T={T}s, MTU {mtu}, median of {rounds}")
    print()
    print("| tunnel | TCP Mbit/s | vs wireguard-go | vs nebula | UDP Mbit/s recv | UDP loss % | CPU s/GB (TCP) | RTT ms (idle, median) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for t, label in TUNNELS:
        if t not in per:
            continue
        tcp = get(t, "tcp_mbps")
        print(f"| {label} | {fmt(tcp)} | {ratio(tcp, wg)} | {ratio(tcp, neb)} | {fmt(get(t, 'udp_mbps'))} | "
              f"{fmt(get(t, 'udp_loss_pct'), 1)} | {'-' if t == 'veth' else fmt(get(t, 'cpu_s_per_gb'), 2)} | "
              f"{fmt(get(t, 'rtt_ms'), 3)} |")
    if "coturn_alone" in med or "ipop_relayed" in med:
        print()
        print("| relayed through coturn (same run) | Mbit/s | CPU s/GB (tunnel) | coturn CPU s/GB | notes |")
        print("|---|---:|---:|---:|---|")
        ca, ir = med.get("coturn_alone", {}), med.get("ipop_relayed", {})
        print(f"| coturn alone: turnutils_uclient -> turnutils_peer, relayed towards the peer | {fmt(ca.get('relay_mbps'))} | - | "
              f"{fmt(ca.get('coturn_cpu_s_per_gb'), 2)} | offered {fmt(ca.get('relay_offered_mbps'))} Mbit/s, "
              f"loss {fmt(ca.get('loss_pct'), 1)} % {joined(notes.get('coturn_alone', []))} |")
        print(f"| Ipop relayed (iperf3 TCP through the tunnel) | {fmt(ir.get('tcp_mbps'))} | {fmt(ir.get('cpu_s_per_gb'), 2)} | "
              f"{fmt(ir.get('coturn_cpu_s_per_gb'), 2)} | {joined(notes.get('ipop_relayed', []))} |")
    if any(f"variant:{n}" in med for n, _ in VARIANTS):
        print()
        print("| Ipop data-plane variant (TCP) | Mbit/s | CPU s/GB | notes |")
        print("|---|---:|---:|---|")
        for name, label in VARIANTS:
            t = f"variant:{name}"
            print(f"| {label} | {fmt(get(t, 'tcp_mbps'))} | {fmt(get(t, 'cpu_s_per_gb'), 2)} | "
                  f"{joined(notes.get(t, []))} |")
    other = {t: n for t, n in notes.items() if t in dict(TUNNELS)}
    for t, n in other.items():
        print(f"note: {t}: {joined(n)}")


if __name__ == "__main__":
    main()
