#!/usr/bin/env bash
# Manage exportd's own local ClickHouse (Debian's clickhouse-server 18.16).
#
# Usage: scripts/clickhouse.sh install|start|stop|status|client [clickhouse-client args...]
#
#   install  apt-get install clickhouse-server + clickhouse-client if missing (root only)
#   start    install if needed, start our server in the background, wait until it answers
#            (does nothing if something already answers on 127.0.0.1:$PORT)
#   stop     stop the server started from our data dir, wait until it exits
#   status   say whether a server answers on 127.0.0.1:$PORT (exit 0 if it does, 1 if not)
#   client   exec clickhouse-client against our server with the remaining args
#
# Environment:
#   EXPORTD_DATA_DIR                 data dir (default .data, relative paths are taken from the
#                                    repo root); ClickHouse lives in $EXPORTD_DATA_DIR/clickhouse
#   EXPORTD_CLICKHOUSE_PORT          native TCP port (default 19000)
#   EXPORTD_CLICKHOUSE_HTTP_PORT     HTTP port (default 18123)
#   EXPORTD_CLICKHOUSE_START_TIMEOUT seconds to wait for the server to answer (default 60)
#
# The Debian package's own service is not used. Our config lives in deploy/clickhouse/; it is
# copied into the data dir on every start, because clickhouse-server 18.16 writes a
# "<name>-preprocessed.xml" file next to the config file it is given.
set -euo pipefail

# clickhouse-server is installed in /usr/sbin, which is not always on PATH.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)

DATA_DIR=${EXPORTD_DATA_DIR:-.data}
case $DATA_DIR in
  /*) ;;
  *) DATA_DIR="$ROOT/$DATA_DIR" ;;
esac
CH_DIR="$DATA_DIR/clickhouse"
CONF_SRC="$ROOT/deploy/clickhouse"
CONF_DIR="$CH_DIR/etc"
PID_FILE="$CH_DIR/pid"
LOG_FILE="$CH_DIR/server.log"
ERR_LOG="$CH_DIR/err.log"
STDOUT_LOG="$CH_DIR/stdout.log"

HOST=127.0.0.1
PORT=${EXPORTD_CLICKHOUSE_PORT:-19000}
HTTP_PORT=${EXPORTD_CLICKHOUSE_HTTP_PORT:-18123}
START_TIMEOUT=${EXPORTD_CLICKHOUSE_START_TIMEOUT:-60}

log() { echo "clickhouse.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

have_clickhouse() {
  command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1
}

cmd_install() {
  if have_clickhouse; then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    die "clickhouse-server/clickhouse-client are not installed and this is not root, so they cannot be installed here.
  Install them as root:  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client"
  fi
  command -v apt-get >/dev/null 2>&1 || die "clickhouse-server is not installed and apt-get is not available"
  log "installing clickhouse-server and clickhouse-client with apt-get"
  # Package lists on a fresh machine are missing or stale: update once, right before installing.
  apt-get update || log "warning: apt-get update failed; trying the install with the package lists at hand"
  DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client
  have_clickhouse || die "clickhouse-server/clickhouse-client still not found on PATH after apt-get install"
}

# answers: true if a ClickHouse server answers a query on $HOST:$PORT.
answers() {
  command -v clickhouse-client >/dev/null 2>&1 || return 1
  timeout 5 clickhouse-client --host "$HOST" --port "$PORT" -q 'SELECT 1' >/dev/null 2>&1
}

# our_pid: print the pid of the clickhouse-server running from our data dir, if any.
# Our own pid file comes first; the server's "status" file (which holds "PID: n") covers a
# server started by hand with our data dir.
our_pid() {
  local pid cmdline
  for pid in \
    "$(tr -dc '0-9' 2>/dev/null <"$PID_FILE" || true)" \
    "$(sed -n 's/^PID: *\([0-9][0-9]*\).*/\1/p' "$CH_DIR/status" 2>/dev/null || true)"; do
    [[ -n $pid ]] || continue
    kill -0 "$pid" 2>/dev/null || continue
    # Guard against a recycled pid: it must be a clickhouse-server using our data dir.
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)
    [[ $cmdline == *clickhouse* && $cmdline == *"--path=$CH_DIR/"* ]] || continue
    echo "$pid"
    return 0
  done
  return 1
}

show_logs() {
  local f
  for f in "$ERR_LOG" "$STDOUT_LOG"; do
    if [[ -s $f ]]; then
      log "--- tail of $f ---"
      tail -n 30 "$f" >&2
    fi
  done
}

cmd_start() {
  cmd_install
  mkdir -p "$CH_DIR/tmp" "$CH_DIR/user_files" "$CONF_DIR"

  # Serialise concurrent starts (e.g. two make targets at once).
  exec 9>"$CH_DIR/.start.lock"
  flock 9

  if answers; then
    if ! our_pid >/dev/null; then
      log "note: a ClickHouse not started from $CH_DIR already answers on $HOST:$PORT; using it"
    fi
    log "ClickHouse answers on $HOST:$PORT"
    return 0
  fi

  local pid
  if pid=$(our_pid); then
    log "clickhouse-server (pid $pid) from $CH_DIR is running but not answering yet; waiting"
  else
    rm -f "$PID_FILE"
    cp -f "$CONF_SRC/config.xml" "$CONF_SRC/users.xml" "$CONF_DIR/"
    log "starting clickhouse-server on $HOST:$PORT, data in $CH_DIR"
    {
      echo "=== $(date -u '+%Y-%m-%dT%H:%M:%SZ') starting clickhouse-server"
    } >>"$STDOUT_LOG"
    # setsid: own session, so the server survives this script, make and Ctrl-C in the terminal.
    # The fd 9 lock must not be inherited by the long-lived server.
    # clickhouse-server 18.16 writes a pid file only in --daemon mode (and ignores
    # "-- --pid_file=..."), so we record the pid ourselves: setsid/nohup exec without forking
    # (the subshell is not a process group leader), so $! is the server's own pid.
    (
      cd "$CH_DIR"
      exec 9>&-
      exec setsid nohup clickhouse-server \
        --config-file="$CONF_DIR/config.xml" \
        -- \
        --path="$CH_DIR/" \
        --tmp_path="$CH_DIR/tmp/" \
        --user_files_path="$CH_DIR/user_files/" \
        --logger.log="$LOG_FILE" \
        --logger.errorlog="$ERR_LOG" \
        --tcp_port="$PORT" \
        --http_port="$HTTP_PORT" \
        </dev/null >>"$STDOUT_LOG" 2>&1
    ) &
    pid=$!
    echo "$pid" >"$PID_FILE"
  fi

  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if answers; then
      log "ClickHouse answers on $HOST:$PORT (pid $(our_pid || echo '?'))"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "clickhouse-server exited during startup"
      show_logs
      exit 1
    fi
    sleep 0.5
  done
  log "clickhouse-server did not answer on $HOST:$PORT within ${START_TIMEOUT}s"
  show_logs
  if kill -0 "$pid" 2>/dev/null; then
    log "clickhouse-server (pid $pid) is still running; '$0 stop' stops it"
  fi
  exit 1
}

cmd_stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    if answers; then
      log "no clickhouse-server from $CH_DIR is running (a different one answers on $HOST:$PORT; left alone)"
    else
      log "no clickhouse-server from $CH_DIR is running"
    fi
    return 0
  fi
  log "stopping clickhouse-server (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 120; i++)); do # up to 60 s
    kill -0 "$pid" 2>/dev/null || { log "stopped"; rm -f "$PID_FILE"; return 0; }
    sleep 0.5
  done
  log "clickhouse-server (pid $pid) did not exit within 60s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; return 0; }
    sleep 0.5
  done
  die "clickhouse-server (pid $pid) is still running"
}

cmd_status() {
  if answers; then
    local pid
    if pid=$(our_pid); then
      echo "ClickHouse answers on $HOST:$PORT (pid $pid, data in $CH_DIR)"
    else
      echo "ClickHouse answers on $HOST:$PORT (not started from $CH_DIR)"
    fi
    return 0
  fi
  if pid=$(our_pid); then
    echo "clickhouse-server (pid $pid, data in $CH_DIR) is running but does not answer on $HOST:$PORT"
  else
    echo "ClickHouse does not answer on $HOST:$PORT"
  fi
  return 1
}

cmd_client() {
  command -v clickhouse-client >/dev/null 2>&1 || die "clickhouse-client is not installed (run: $0 install)"
  exec clickhouse-client --host "$HOST" --port "$PORT" "$@"
}

usage() {
  echo "usage: $0 install|start|stop|status|client [clickhouse-client args...]" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
sub=$1
shift
case $sub in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  client) cmd_client "$@" ;;
  -h | --help | help) usage ;;
  *) log "unknown subcommand: $sub"; usage ;;
esac
