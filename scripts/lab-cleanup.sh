#!/usr/bin/env bash
# Removes lab namespaces (and the processes in them) left behind by a crashed or killed test run.
# Lab names start with "ipl" (tests), "ipd" (demo) or "ipb" (benchmarks), followed by the PID of the process
# that made them. A namespace whose maker is still running belongs to a live run (another test run, the demo)
# and is left alone. Pass a stem to limit it further.
stem="${1:-ip[ldb]}"
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${stem}" || true); do
  owner=$(printf '%s' "$ns" | sed -nE 's/^ip[ldb]([0-9]+).*/\1/p')
  if [ -n "$owner" ] && [ "$owner" != "$$" ] && kill -0 "$owner" 2>/dev/null; then continue; fi
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
done
