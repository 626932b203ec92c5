#!/usr/bin/env bash
# Issue 14 part 6, "leave the user's machine alone", checked for real: a system-wide prosody (the Debian package's,
# with its own config, on port 5222 of the host's network namespace) must keep running across the whole test run,
# whatever the lab does with its private prosody/coturn instances.
#
#   start  If a system-wide prosody already runs (a process listening on TCP 5222 in this namespace whose command line
#          names prosody), record its PID; it is the user's and is never stopped. Otherwise start Debian's prosody
#          with its default config (/etc/prosody/prosody.cfg.lua) as the prosody user, in the background, and record
#          that this script started it. Prints IPOP_SYSTEM_PROSODY_PID=... and IPOP_SYSTEM_PROSODY_START=... (the
#          process start time in clock ticks, so a recycled PID is noticed) for `eval`.
#   check  The recorded PID is alive, is still the same process (same start time) and still prosody, and
#          127.0.0.1:5222 accepts a TCP connection. Exit 0 when all hold, 1 otherwise (each failure named).
#   stop   Stops only what `start` started, by its PID (SIGTERM, then SIGKILL after 10 s); leaves a prosody that
#          was already running alone.
# State lives in artifacts/system-services/ (prosody.env). Needs root for `start` of a new prosody.
set -uo pipefail
cd "$(dirname "$0")/.."
state_dir="$(pwd)/artifacts/system-services"
state="$state_dir/prosody.env"
port=5222

die() { echo "system-services-guard: $*" >&2; exit 1; }

# The PID of the process listening on TCP $port in this network namespace, if any.
listener_pid() {
  ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

is_prosody() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q prosody; }

# Field 22 of /proc/PID/stat (after the ")" that ends the command name, which may contain spaces).
start_time() { [ -r "/proc/$1/stat" ] && sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f20; }

accepts() { timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; }

cmd_start() {
  mkdir -p "$state_dir"
  if [ -f "$state" ]; then
    # shellcheck disable=SC1090
    . "$state"
    if [ -d "/proc/$IPOP_SYSTEM_PROSODY_PID" ] && [ "$(start_time "$IPOP_SYSTEM_PROSODY_PID")" = "$IPOP_SYSTEM_PROSODY_START" ]; then
      cat "$state"; return 0
    fi
    rm -f "$state"
  fi
  local pid started=0 made_run_dir=0
  pid=$(listener_pid)
  if [ -n "$pid" ]; then
    is_prosody "$pid" || die "port $port is taken by PID $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline")), not by prosody: nothing to guard"
    echo "system-services-guard: a system-wide prosody already runs (PID $pid); it is recorded and will not be stopped" >&2
  else
    command -v prosody >/dev/null || die "prosody is not installed (scripts/setup.sh installs it)"
    [ "$(id -u)" -eq 0 ] || die "starting the system prosody needs root"
    [ -r /etc/prosody/prosody.cfg.lua ] || die "/etc/prosody/prosody.cfg.lua is missing: not Debian's prosody package"
    # Debian's config writes its pid file to /run/prosody, which systemd's unit would create; without it prosody stops.
    if [ ! -d /run/prosody ]; then
      install -d -o prosody -g prosody -m 0750 /run/prosody && made_run_dir=1
    fi
    # As the service does it: the prosody user, the default config, in the foreground of a detached session.
    # setsid and setpriv exec (no fork), so $! is prosody itself.
    setsid setpriv --reuid=prosody --regid=prosody --init-groups -- prosody -F </dev/null >"$state_dir/prosody.out" 2>&1 &
    pid=$!
    started=1
    local i
    for i in $(seq 1 100); do
      accepts && break
      kill -0 "$pid" 2>/dev/null || { cat "$state_dir/prosody.out" >&2; die "prosody exited while starting"; }
      sleep 0.1
    done
    accepts || { kill -TERM "$pid" 2>/dev/null; die "prosody did not accept on 127.0.0.1:$port within 10 s"; }
    [ "$(listener_pid)" = "$pid" ] || { kill -TERM "$pid" 2>/dev/null; die "port $port is held by PID $(listener_pid), not by the prosody started (PID $pid)"; }
    echo "system-services-guard: started Debian's prosody as a system-wide daemon (PID $pid)" >&2
  fi
  {
    echo "IPOP_SYSTEM_PROSODY_PID=$pid"
    echo "IPOP_SYSTEM_PROSODY_START=$(start_time "$pid")"
    echo "IPOP_SYSTEM_PROSODY_STARTED_BY_GUARD=$started"
    echo "IPOP_SYSTEM_PROSODY_MADE_RUN_DIR=$made_run_dir"
  } >"$state"
  sed 's/^/export /' "$state"
}

cmd_check() {
  [ -f "$state" ] || die "no $state: run '$0 start' first"
  # shellcheck disable=SC1090
  . "$state"
  local pid=$IPOP_SYSTEM_PROSODY_PID failures=()
  if [ ! -d "/proc/$pid" ]; then
    failures+=("prosody PID $pid is gone")
  else
    [ "$(start_time "$pid")" = "$IPOP_SYSTEM_PROSODY_START" ] || failures+=("PID $pid is a different process now (start time changed): prosody was restarted or killed")
    is_prosody "$pid" || failures+=("PID $pid is no longer prosody")
    # A killed process whose parent has not reaped it yet still has /proc/PID, in state Z.
    [ "$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)" != Z ] || failures+=("prosody PID $pid has exited (a zombie)")
  fi
  accepts || failures+=("127.0.0.1:$port refuses TCP connections")
  if [ ${#failures[@]} -gt 0 ]; then
    printf 'system-services-guard: system-wide prosody NOT intact: %s\n' "${failures[@]}"
    exit 1
  fi
  echo "system-services-guard: system-wide prosody intact (PID $pid, same process since start, 127.0.0.1:$port accepts)"
}

cmd_stop() {
  [ -f "$state" ] || { echo "system-services-guard: nothing recorded; nothing to stop"; return 0; }
  # shellcheck disable=SC1090
  . "$state"
  local pid=$IPOP_SYSTEM_PROSODY_PID
  if [ "$IPOP_SYSTEM_PROSODY_STARTED_BY_GUARD" != 1 ]; then
    echo "system-services-guard: prosody PID $pid was running before; left alone"
  elif [ -d "/proc/$pid" ] && [ "$(start_time "$pid")" = "$IPOP_SYSTEM_PROSODY_START" ]; then
    kill -TERM "$pid"
    local i
    for i in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ] && [ "$(start_time "$pid")" = "$IPOP_SYSTEM_PROSODY_START" ]; then kill -KILL "$pid"; fi
    echo "system-services-guard: stopped the prosody it started (PID $pid)"
  else
    echo "system-services-guard: the prosody it started (PID $pid) is already gone"
  fi
  if [ "$IPOP_SYSTEM_PROSODY_MADE_RUN_DIR" = 1 ] && [ -d /run/prosody ] && [ -z "$(ls -A /run/prosody)" ]; then
    rmdir /run/prosody
  fi
  rm -f "$state"
}

case "${1:-}" in
  start) cmd_start ;;
  check) cmd_check ;;
  stop) cmd_stop ;;
  *) echo "usage: $0 start|check|stop" >&2; exit 2 ;;
esac
