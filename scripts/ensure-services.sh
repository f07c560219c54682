#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on 127.0.0.1: starts them when installed but stopped, says what is missing.
set -u
PGHOST_=${PGHOST_CHECK:-127.0.0.1}
PGPORT_=${PGPORT_CHECK:-5432}
REDIS_PORT_=${REDIS_PORT_CHECK:-6379}
status=0

pg_up() { pg_isready -q -h "$PGHOST_" -p "$PGPORT_" 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT_" ping 2>/dev/null)" = "PONG" ]; }
wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "ensure-services: PostgreSQL client tools are not installed (apt-get install postgresql)" >&2
  status=1
elif pg_up; then
  echo "ensure-services: PostgreSQL is up on $PGHOST_:$PGPORT_"
elif command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
  echo "ensure-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
  if wait_for pg_up; then echo "ensure-services: PostgreSQL started"; else echo "ensure-services: PostgreSQL did not start" >&2; status=1; fi
else
  echo "ensure-services: PostgreSQL server is not installed (apt-get install postgresql) and nothing answers on $PGHOST_:$PGPORT_" >&2
  status=1
fi

if ! command -v redis-cli >/dev/null 2>&1; then
  echo "ensure-services: Redis is not installed (apt-get install redis-server)" >&2
  status=1
elif redis_up; then
  echo "ensure-services: Redis is up on 127.0.0.1:$REDIS_PORT_"
elif command -v redis-server >/dev/null 2>&1; then
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT_" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  if wait_for redis_up; then echo "ensure-services: Redis started"; else echo "ensure-services: Redis did not start" >&2; status=1; fi
else
  echo "ensure-services: redis-server is not installed (apt-get install redis-server) and nothing answers on port $REDIS_PORT_" >&2
  status=1
fi
exit $status
