#!/usr/bin/env bash
# Removes lab namespaces (and the processes in them) left behind by a crashed or killed test run.
# Lab names start with "ipl" (tests), "ipd" (demo) or "ipb" (benchmarks). Pass a PID-based stem to limit it.
stem="${1:-ip[ldb]}"
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${stem}" || true); do
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
done
