#!/usr/bin/env bash
# A real Spark cluster on this machine, from the pyspark wheel in .venv (its bin/spark-class and the Spark
# Connect jar; the wheel has no sbin/start-*.sh): a standalone master, N workers as separate JVMs (1 core
# each), and a Spark Connect server whose driver runs its jobs on those workers (--master spark://…).
#
#   scripts/spark_cluster.sh start    start whatever is not running (idempotent), wait until it is ready
#   scripts/spark_cluster.sh stop     stop what this script's pid files say it started, nothing else
#   scripts/spark_cluster.sh status   one line per process; exit 0 when all run and answer, 3 otherwise
#
# Settings (environment; docs/spark.md "A local cluster" lists them):
#   JICAI_SPARK_CONNECT_PORT (15002), JICAI_SPARK_MASTER_PORT (7077), JICAI_SPARK_MASTER_UI_PORT (8080),
#   JICAI_SPARK_WORKER_PORTS ("0 0": one per worker, 0 = any free port), JICAI_SPARK_WORKERS (2),
#   JICAI_SPARK_EXECUTOR_MEMORY (2g), JICAI_SPARK_DRIVER_MEMORY (2g), JICAI_SPARK_DAEMON_MEMORY (512m),
#   JICAI_SPARK_SHUFFLE_PARTITIONS (8), JICAI_SPARK_STATE (.services/spark), JICAI_SPARK_START_TIMEOUT (240 s),
#   JICAI_SPARK_UI_PORT (unset: the driver's web UI is off; a port: on there, with its REST API /api/v1),
#   JICAI_PYTHON (.venv/bin/python).
# Progress goes to stderr; stdout stays empty, so scripts/services.sh can call it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[spark-cluster] $*" >&2; }
die() { log "$*"; exit 1; }

PY=${JICAI_PYTHON:-.venv/bin/python}
[ -x "$PY" ] || die "no Python at $PY: run 'make setup' (or set JICAI_PYTHON)"
PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")  # absolute: executors start Python from their own dirs
STATE=${JICAI_SPARK_STATE:-.services/spark}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
CONNECT_PORT=${JICAI_SPARK_CONNECT_PORT:-15002}
MASTER_PORT=${JICAI_SPARK_MASTER_PORT:-7077}
MASTER_UI_PORT=${JICAI_SPARK_MASTER_UI_PORT:-8080}
WORKERS=${JICAI_SPARK_WORKERS:-2}
read -r -a WORKER_PORTS <<< "${JICAI_SPARK_WORKER_PORTS:-}"
# 2g: with 1g the import's facts at 10^7 lines spilled 16.5 GB to memory and 2 GB to disk (2.8 GB and 45 MB with 2g)
EXECUTOR_MEMORY=${JICAI_SPARK_EXECUTOR_MEMORY:-2g}
DRIVER_MEMORY=${JICAI_SPARK_DRIVER_MEMORY:-2g}
SHUFFLE_PARTITIONS=${JICAI_SPARK_SHUFFLE_PARTITIONS:-8}
TIMEOUT=${JICAI_SPARK_START_TIMEOUT:-240}
UI_PORT=${JICAI_SPARK_UI_PORT:-}
MASTER_URL=spark://127.0.0.1:$MASTER_PORT

# Every process binds to the loopback only: this cluster is for one machine, and has no authentication.
export SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_HOSTNAME=127.0.0.1
# Master and worker daemons only schedule; the memory for the work goes to the executors and the driver.
export SPARK_DAEMON_MEMORY=${JICAI_SPARK_DAEMON_MEMORY:-512m}
# The pid files hold the JVMs' pids: spark-class execs java, so nothing may stand between it and $!.
export SPARK_NO_DAEMONIZE=1 PYSPARK_PYTHON=$PY PYSPARK_DRIVER_PYTHON=$PY

spark_home() {
  # find_spec does not import pyspark (which would take a second on every `make services`)
  "$PY" -c 'import importlib.util as u; print(u.find_spec("pyspark").submodule_search_locations[0])' 2>/dev/null \
    || die "PySpark is not installed in $PY's environment: run 'make setup'"
}

# --- processes -------------------------------------------------------------------------------------------
# A pid file counts only while its process is alive and is the JVM this cluster started (the main class and
# this state folder on its command line), so a recycled pid is never taken for ours, nor killed.
alive() {  # alive NAME CLASS
  local pidfile=$STATE/$1.pid pid cmd
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline") || return 1
  [[ $cmd == *"$2"* && $cmd == *"$STATE"* ]]
}

launch() {  # launch NAME COMMAND...: detached from this shell's session, so a Ctrl-C in `make` spares it
  local name=$1; shift
  log "starting $name (log: $STATE/$name.log)"
  # setsid execs in place (this non-interactive shell does not make process-group leaders), so $! is the JVM
  (cd "$STATE" && exec setsid "$@" > "$STATE/$name.log" 2>&1 < /dev/null) &
  echo $! > "$STATE/$name.pid"
}

MASTER_CLASS=org.apache.spark.deploy.master.Master
WORKER_CLASS=org.apache.spark.deploy.worker.Worker
CONNECT_CLASS=org.apache.spark.sql.connect.service.SparkConnectServer

start_master() {
  alive master "$MASTER_CLASS" && return
  launch master "$SPARK_HOME/bin/spark-class" "$MASTER_CLASS" --host 127.0.0.1 --port "$MASTER_PORT" \
    --webui-port "$MASTER_UI_PORT" --properties-file "$STATE/daemon.conf"
}

start_worker() {  # start_worker N
  local n=$1 port=${WORKER_PORTS[$(($1 - 1))]:-0}
  alive "worker-$n" "$WORKER_CLASS" && return
  mkdir -p "$STATE/work/worker-$n"
  # --webui-port 0: any free port (nothing here reads a worker's page); executors log into the work dir
  launch "worker-$n" "$SPARK_HOME/bin/spark-class" "$WORKER_CLASS" --host 127.0.0.1 --port "$port" \
    --webui-port 0 --cores 1 --memory "$EXECUTOR_MEMORY" --work-dir "$STATE/work/worker-$n" \
    --properties-file "$STATE/daemon.conf" "$MASTER_URL"
}

start_connect() {
  alive connect "$CONNECT_CLASS" && return
  # The UI costs memory and a port; the fault tests turn it on to watch tasks through its REST API.
  local UI_CONF=(--conf spark.ui.enabled=false)
  [ -z "$UI_PORT" ] || UI_CONF=(--conf spark.ui.enabled=true --conf spark.ui.port="$UI_PORT")
  # Derby (the catalog's metastore) and spark-warehouse/ would land in the working directory: keep them here.
  # The launcher sizes the Connect server's heap like a daemon's (SPARK_DAEMON_MEMORY, 512m above), not by
  # --driver-memory: with 512 MB its old generation filled within half an hour of tests (hundreds of full GCs,
  # then OutOfMemoryError). So the daemon setting is the driver's for this one JVM.
  SPARK_DAEMON_MEMORY="$DRIVER_MEMORY" \
  launch connect "$SPARK_HOME/bin/spark-submit" --master "$MASTER_URL" --name jicai-connect \
    --driver-memory "$DRIVER_MEMORY" \
    --driver-java-options "-Dderby.system.home=$STATE" \
    --conf spark.connect.grpc.binding.address=127.0.0.1 \
    --conf spark.connect.grpc.binding.port="$CONNECT_PORT" \
    --conf spark.driver.host=127.0.0.1 \
    --conf spark.executor.cores=1 \
    --conf spark.cores.max="$WORKERS" \
    --conf spark.executor.memory="$EXECUTOR_MEMORY" \
    --conf spark.sql.session.timeZone=Asia/Shanghai \
    --conf spark.sql.shuffle.partitions="$SHUFFLE_PARTITIONS" \
    --conf spark.sql.warehouse.dir="$STATE/warehouse" \
    --conf spark.pyspark.python="$PY" \
    --conf spark.sql.ui.retainedExecutions=50 --conf spark.ui.retainedJobs=100 --conf spark.ui.retainedStages=100 \
    "${UI_CONF[@]}" \
    --class "$CONNECT_CLASS" spark-internal
}

# --- readiness -------------------------------------------------------------------------------------------
port_open() { "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2).close()' "$1" 2>/dev/null; }

alive_workers() {  # how many workers the master lists as ALIVE (its JSON status page); 0 if it does not answer
  "$PY" - "$MASTER_UI_PORT" <<'PY' 2>/dev/null || echo 0
import json, sys, urllib.request
status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=3))
print(sum(1 for w in status["workers"] if w["state"] == "ALIVE"))
PY
}

ready() { alive connect "$CONNECT_CLASS" && port_open "$CONNECT_PORT" && [ "$(alive_workers)" -ge "$WORKERS" ]; }

all_alive() {
  alive master "$MASTER_CLASS" || return 1
  for n in $(seq 1 "$WORKERS"); do alive "worker-$n" "$WORKER_CLASS" || return 1; done
  alive connect "$CONNECT_CLASS"
}

fail_with_logs() {
  log "$1"
  for f in "$STATE"/*.log; do
    [ -f "$f" ] || continue
    log "--- last lines of $f"; tail -n 25 "$f" >&2
  done
  exit 1
}

# A port already taken by some other program would make our JVM exit with a bind error after a while;
# say so at once, naming the setting that moves it.
check_free() {  # check_free NAME CLASS PORT SETTING
  if ! alive "$1" "$2" && port_open "$3"; then
    die "port $3 is taken by another program (not a $1 this script started): stop it, or set $4"
  fi
}

cmd_start() {
  if all_alive && ready; then log "running (Connect sc://127.0.0.1:$CONNECT_PORT)"; return; fi
  SPARK_HOME=$(spark_home); export SPARK_HOME
  check_free master "$MASTER_CLASS" "$MASTER_PORT" JICAI_SPARK_MASTER_PORT
  check_free master "$MASTER_CLASS" "$MASTER_UI_PORT" JICAI_SPARK_MASTER_UI_PORT
  check_free connect "$CONNECT_CLASS" "$CONNECT_PORT" JICAI_SPARK_CONNECT_PORT
  # Settings of the master and worker daemons: finished applications' folders in the work dirs are removed
  # (their executor logs would otherwise pile up run after run).
  cat > "$STATE/daemon.conf" <<EOF
spark.worker.cleanup.enabled true
spark.worker.cleanup.appDataTtl 86400
EOF
  local t0=$SECONDS
  start_master
  until port_open "$MASTER_PORT"; do
    alive master "$MASTER_CLASS" || fail_with_logs "the master exited"
    [ $((SECONDS - t0)) -lt "$TIMEOUT" ] || fail_with_logs "the master did not answer on $MASTER_PORT within ${TIMEOUT}s"
    sleep 0.5
  done
  for n in $(seq 1 "$WORKERS"); do start_worker "$n"; done
  start_connect
  log "waiting for $WORKERS workers and the Connect server on $CONNECT_PORT"
  until ready; do
    for n in $(seq 1 "$WORKERS"); do alive "worker-$n" "$WORKER_CLASS" || fail_with_logs "worker $n exited"; done
    alive connect "$CONNECT_CLASS" || fail_with_logs "the Connect server exited"
    [ $((SECONDS - t0)) -lt "$TIMEOUT" ] || fail_with_logs "not ready within ${TIMEOUT}s (JICAI_SPARK_START_TIMEOUT)"
    sleep 1
  done
  log "ready in $((SECONDS - t0))s: sc://127.0.0.1:$CONNECT_PORT, master $MASTER_URL, $WORKERS workers"
}

stop_one() {  # stop_one NAME CLASS: TERM, then KILL after 20 s
  local pid
  if ! alive "$1" "$2"; then rm -f "$STATE/$1.pid"; return; fi
  pid=$(cat "$STATE/$1.pid")
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "$1 ignored TERM: killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$STATE/$1.pid"
}

cmd_stop() {
  # The driver first (its executors end with it), then the workers, then the master.
  stop_one connect "$CONNECT_CLASS"
  local pidfile
  for pidfile in "$STATE"/worker-*.pid; do
    [ -f "$pidfile" ] || continue
    stop_one "$(basename "$pidfile" .pid)" "$WORKER_CLASS"
  done
  stop_one master "$MASTER_CLASS"
}

cmd_status() {
  local ok=0 n
  show() { if alive "$1" "$2"; then log "$1: running, pid $(cat "$STATE/$1.pid")"; else log "$1: not running"; ok=3; fi; }
  show master "$MASTER_CLASS"
  for n in $(seq 1 "$WORKERS"); do show "worker-$n" "$WORKER_CLASS"; done
  show connect "$CONNECT_CLASS"
  log "workers alive at the master: $(alive_workers) of $WORKERS"
  if port_open "$CONNECT_PORT"; then log "Connect answers: sc://127.0.0.1:$CONNECT_PORT"; else log "Connect does not answer on $CONNECT_PORT"; ok=3; fi
  return $ok
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
