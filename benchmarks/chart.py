#!/usr/bin/env python3
"""Draws the results.json of benchmarks/throughput.sh as an SVG bar chart (standard library only).

    python3 benchmarks/chart.py RESULTS.json [OUT.svg]      # OUT defaults to docs/performance.svg

Left panel: Mbit/s of iperf3 TCP and UDP (received) for plain veth, Ipop, wireguard-go and nebula side by side.
Plain veth is the ceiling and is far above the tunnels, so its bars are cut at the top of the axis (a zigzag
marks the cut) and carry their value. Right panel: CPU seconds per GB carried (both tunnel processes, TCP run).
The footer says when, how long, how many rounds and how loaded the machine was.
"""

import json
import sys
from html import escape

TUNNELS = [("veth", "plain veth", "#b0b0b0"), ("ipop", "Ipop", "#1f77b4"),
           ("wireguard-go", "wireguard-go", "#ff7f0e"), ("nebula", "nebula", "#2ca02c")]
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


def nice_max(v):
    """The smallest 1/2/2.5/5 x 10^n at or above v, so the axis ticks are round numbers."""
    if v <= 0:
        return 1.0
    step = 10 ** (len(str(int(v))) - 1)
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= v:
            return m * step
    return 10 * step


def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:,.2f}"


class Panel:
    """One bar panel: groups of bars (one per tunnel) against a linear axis from 0 to `top`."""

    def __init__(self, x, y, w, h, title, unit, top):
        self.x, self.y, self.w, self.h, self.title, self.unit, self.top = x, y, w, h, title, unit, top

    def frame(self, out):
        out.append(f'<text x="{self.x}" y="{self.y - 14}" {FONT} font-size="14" font-weight="bold">{escape(self.title)}</text>')
        for i in range(6):
            v = self.top * i / 5
            yy = self.y + self.h - self.h * i / 5
            out.append(f'<line x1="{self.x}" y1="{yy:.1f}" x2="{self.x + self.w}" y2="{yy:.1f}" stroke="#e5e5e5"/>')
            out.append(f'<text x="{self.x - 6}" y="{yy + 4:.1f}" {FONT} font-size="11" text-anchor="end">{fmt(v) if v else "0"}</text>')
        out.append(f'<line x1="{self.x}" y1="{self.y + self.h}" x2="{self.x + self.w}" y2="{self.y + self.h}" stroke="#333"/>')
        out.append(f'<text transform="translate({self.x - 48},{self.y + self.h / 2}) rotate(-90)" {FONT} font-size="11" '
                   f'text-anchor="middle">{escape(self.unit)}</text>')

    def groups(self, out, groups):
        """groups: [(label, [(value or None, colour)])]"""
        gw = self.w / len(groups)
        for gi, (label, bars) in enumerate(groups):
            bw = min(34.0, (gw - 20) / max(1, len(bars)))
            x0 = self.x + gi * gw + (gw - bw * len(bars)) / 2
            for bi, (v, colour) in enumerate(bars):
                bx = x0 + bi * bw
                if v is None:
                    out.append(f'<text x="{bx + bw / 2:.1f}" y="{self.y + self.h - 4}" {FONT} font-size="10" '
                               f'text-anchor="middle" fill="#888">n/a</text>')
                    continue
                clipped = v > self.top
                bh = self.h if clipped else self.h * v / self.top
                by = self.y + self.h - bh
                out.append(f'<rect x="{bx + 2:.1f}" y="{by:.1f}" width="{bw - 4:.1f}" height="{bh:.1f}" fill="{colour}"/>')
                if clipped:  # a white zigzag across the bar says "cut here"
                    zy = self.y + 14
                    out.append(f'<polyline points="{bx + 1:.1f},{zy} {bx + bw / 4:.1f},{zy - 5} {bx + bw / 2:.1f},{zy} '
                               f'{bx + 3 * bw / 4:.1f},{zy - 5} {bx + bw - 1:.1f},{zy}" fill="none" stroke="#fff" stroke-width="3"/>')
                out.append(f'<text x="{bx + bw / 2:.1f}" y="{by - 4:.1f}" {FONT} font-size="10" text-anchor="middle">{fmt(v)}</text>')
            out.append(f'<text x="{self.x + gi * gw + gw / 2:.1f}" y="{self.y + self.h + 18}" {FONT} font-size="12" '
                       f'text-anchor="middle">{escape(label)}</text>')


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "results.json"
    dst = sys.argv[2] if len(sys.argv) > 2 else "docs/performance.svg"
    r = json.load(open(src))
    tun, meta = r["tunnels"], r["meta"]

    def val(t, m):
        v = (tun.get(t) or {}).get(m)
        return v if isinstance(v, (int, float)) else None

    tunnels_max = max([val(t, m) or 0 for t, _, _ in TUNNELS[1:] for m in ("tcp_mbps", "udp_mbps")] + [1])
    veth_max = max(val("veth", "tcp_mbps") or 0, val("veth", "udp_mbps") or 0)
    top = nice_max(tunnels_max * 1.15)
    if veth_max and veth_max <= top * 1.5:  # keep veth whole when it is not far above the tunnels
        top = nice_max(veth_max * 1.1)
    cpu_top = nice_max(max([val(t, "cpu_s_per_gb") or 0 for t, _, _ in TUNNELS[1:]] + [1]) * 1.15)

    W, H = 900, 430
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">',
           f'<rect width="{W}" height="{H}" fill="#fff"/>',
           f'<text x="{W / 2}" y="24" {FONT} font-size="16" font-weight="bold" text-anchor="middle">'
           f'Ipop vs wireguard-go vs nebula, one run, same namespace pair (MTU {meta.get("mtu")})</text>']
    left = Panel(80, 70, 480, 260, "Throughput (iperf3, median of rounds)", "Mbit/s", top)
    left.frame(out)
    left.groups(out, [(label, [(val(t, metric), c) for t, _, c in TUNNELS])
                      for label, metric in (("TCP", "tcp_mbps"), ("UDP received (-b 0, 1380 B)", "udp_mbps"))])
    right = Panel(660, 70, 210, 260, "CPU cost (TCP run)", "CPU seconds per GB carried", cpu_top)
    right.frame(out)
    right.groups(out, [("both tunnel processes", [(val(t, "cpu_s_per_gb"), c) for t, _, c in TUNNELS[1:]])])
    lx = 80
    for t, label, c in TUNNELS:  # legend
        out.append(f'<rect x="{lx}" y="362" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="{lx + 17}" y="372" {FONT} font-size="12">{escape(label)}</text>')
        lx += 30 + 8 * len(label)
    versions = meta.get("versions") or {}
    foot = [f'{meta.get("started", "?")}, T={meta.get("T_seconds")} s per iperf3 run, median of {meta.get("rounds")} round(s), '
            f'{meta.get("cpus")} CPUs, load average {meta.get("load_start")} at the start',
            f'Debian wireguard-go {versions.get("wireguard-go")}, nebula {versions.get("nebula")}; '
            f'Ipop {versions.get("ipop")}; benchmarks/throughput.sh, benchmarks/chart.py']
    for i, line in enumerate(foot):
        out.append(f'<text x="{W / 2}" y="{396 + 15 * i}" {FONT} font-size="11" fill="#555" text-anchor="middle">{escape(line)}</text>')
    out.append('</svg>')
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")
    print(dst)


if __name__ == "__main__":
    main()
