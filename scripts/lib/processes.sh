# Helpers shared by scripts/bench, scripts/bench-saga and scripts/pgo-build, which start a few processes on free
# loopback ports, wait until they answer, and stop them all on the way out. Sourced; the
# script sets NAME (its name in messages) first, and before `clean_up_on_exit` WORK (its
# run's directory), KEEP (1: keep it) and KEPT (what it holds, for the message).

fail() { echo "$NAME: $*" >&2; exit 1; }
note() { echo "$NAME: $*" >&2; }

apt_install() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "$* missing, and installing it needs root: apt-get install -y $*"
    sudo=(sudo)
  fi
  note "installing $* with apt-get"
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; then
    "${sudo[@]}" apt-get update || fail "apt-get update failed"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
      || fail "apt-get could not install $*"
  fi
}

# Sets the variable named $1 to a port below the kernel's ephemeral range (so no outgoing
# connection holds one) that nothing listens on, each handed out once.
declare -A HANDED_OUT=()
pick_port() {
  local port tries
  for tries in $(seq 1 500); do
    port=$((20000 + RANDOM % 12000))
    [ -z "${HANDED_OUT[$port]:-}" ] || continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      HANDED_OUT[$port]=1
      printf -v "$1" '%s' "$port"
      return
    fi
  done
  fail "no free port found after $tries tries"
}

declare -A PIDS=()
STARTED=()

start() { # name log command...
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  PIDS[$name]=$!
  [[ " ${STARTED[*]} " == *" $name "* ]] || STARTED+=("$name")
}

# Stops what `start` started: SIGTERM to each, then SIGKILL to what still runs after 10 s.
stop_started() {
  local name pid deadline
  for name in "${STARTED[@]}"; do
    [ -z "${PIDS[$name]:-}" ] || kill -TERM "${PIDS[$name]}" 2>/dev/null || true
  done
  deadline=$((SECONDS + 10))
  for name in "${STARTED[@]}"; do
    pid=${PIDS[$name]:-}
    [ -n "$pid" ] || continue
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true; }

wait_ready() { # name url log [seconds]
  local name=$1 url=$2 log=$3 deadline=$((SECONDS + ${4:-30}))
  until [ "$(status_of "$url")" = 200 ]; do
    if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
      echo "$NAME: $name exited while starting; the end of its log ($log):" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$NAME: $name did not answer 200 on $url within ${4:-30}s; the end of its log ($log):" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
}

# On the way out: stops what `start` started, runs $AT_EXIT if the script set it (to remove
# what the run created elsewhere), and removes $WORK unless the script failed or $KEEP is 1,
# then says where it is.
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_started
  [ -z "${AT_EXIT:-}" ] || "$AT_EXIT" || note "$AT_EXIT failed"
  if [ "$status" -ne 0 ] || [ "${KEEP:-0}" = 1 ]; then
    note "$KEPT kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}

clean_up_on_exit() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
