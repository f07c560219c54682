#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with a RADOS Gateway on loopback: the real S3 implementation the tests run against.
#
#   bash scripts/ceph-s3.sh install   apt-get install radosgw, ceph-mon, ceph-osd (Debian's packages) when missing
#   bash scripts/ceph-s3.sh start     one mon, one memstore OSD, radosgw (beast) and a test user; prints status
#   bash scripts/ceph-s3.sh status    KEY=value lines (endpoint, credentials) for tests to read; non-zero when down
#   bash scripts/ceph-s3.sh stop      kills what start started and removes CEPH_S3_DIR
#
# Everything lives in CEPH_S3_DIR (default /tmp/artstore-ceph-s3): config, keyrings, logs, pid files. Every daemon
# binds 127.0.0.1 only; the machine's /etc/ceph, PostgreSQL and Redis are never touched. By default the OSD keeps
# objects in memory (memstore: RSS grows with the live data, which rgw's garbage collector frees within a minute of a
# delete; CEPH_S3_MEMSTORE_BYTES is the size it reports, not a cap it enforces). CEPH_S3_OBJECTSTORE=bluestore puts
# them in a sparse file of CEPH_S3_BLUESTORE_BYTES instead, with a fixed cache. A stop loses them: a test fixture.
# No mgr: radosgw only needs the mon and an OSD, and a mgr would add ~150 MB of Python for nothing the tests use.
set -u

DIR=${CEPH_S3_DIR:-/tmp/artstore-ceph-s3}
PORT=${CEPH_S3_PORT:-7480}
# memstore (objects in RAM: fastest start, nothing on disk) or bluestore (a sparse file in CEPH_S3_DIR, bounded cache).
OBJECTSTORE=${CEPH_S3_OBJECTSTORE:-memstore}
MEMSTORE_BYTES=${CEPH_S3_MEMSTORE_BYTES:-2147483648}
BLUESTORE_BYTES=${CEPH_S3_BLUESTORE_BYTES:-4294967296}
# Fixed test credentials: this gateway holds nothing but test data and listens on loopback only.
ACCESS_KEY=artstore-test-access
SECRET_KEY=artstore-test-secret-not-for-production
REGION=us-east-1
PACKAGES=(radosgw ceph-mon ceph-osd ceph-common curl)
CONF="$DIR/ceph.conf"

log() { echo "ceph-s3: $*" >&2; }
die() { log "$*"; exit 1; }
ceph_() { timeout 30 ceph -c "$CONF" --connect-timeout 10 "$@"; }
# A pid file's process, only while it is still one of ours (a stale file's pid may belong to anything by now).
pid_alive() { [ -s "$1" ] && grep -qF -- "$CONF" "/proc/$(cat "$1")/cmdline" 2>/dev/null; }
# The anonymous ListAllMyBuckets answer proves the gateway's HTTP side and its RADOS side are both up.
s3_answers() { curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # what, seconds, command...
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    [ "$SECONDS" -ge "$deadline" ] && { log "timed out after ${secs}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

running() {
  [ -f "$DIR/ready" ] && pid_alive "$DIR/run/mon.a.pid" && pid_alive "$DIR/run/osd.0.pid" \
    && pid_alive "$DIR/run/client.rgw.gw.pid" && s3_answers
}

cmd_status() {
  if ! running; then
    echo "Ceph RADOS Gateway is not running (CEPH_S3_DIR=$DIR, port $PORT)" >&2
    return 1
  fi
  echo "CEPH_S3_ENDPOINT=http://127.0.0.1:$PORT"
  echo "CEPH_S3_ACCESS_KEY_ID=$ACCESS_KEY"
  echo "CEPH_S3_SECRET_ACCESS_KEY=$SECRET_KEY"
  echo "CEPH_S3_REGION=$REGION"
}

cmd_install() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { log "packages already installed ($(ceph --version 2>/dev/null | cut -d' ' -f1-3))"; return 0; }
  [ "$(id -u)" = 0 ] || die "not root: cannot apt-get install ${missing[*]}"
  command -v apt-get >/dev/null || die "no apt-get: cannot install ${missing[*]}"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A cached package list first (fast); an update only when that fails (a fresh or stale machine).
  timeout 600 apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${missing[@]}" >"$DIR.apt.log" 2>&1 \
    || { timeout 300 apt-get -o DPkg::Lock::Timeout=120 update -qq >>"$DIR.apt.log" 2>&1 \
      && timeout 600 apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${missing[@]}" >>"$DIR.apt.log" 2>&1; } \
    || die "apt-get install failed: $(tail -n 3 "$DIR.apt.log" | tr '\n' ' ')"
  rm -f "$DIR.apt.log"
}

write_conf() { # fsid, mon port, osd port range start
  cat >"$CONF" <<EOF
[global]
fsid = $1
mon host = v2:127.0.0.1:$2
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
ms bind port min = $3
ms bind port max = $(($3 + 99))
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $DIR/\$name.keyring
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
crash dir = $DIR/crash
# One OSD: every pool has one replica, and no health warning about it stops anything.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
mon allow pool delete = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
mon warn on insecure global id reclaim allowed = false
auth allow insecure global id reclaim = false

[mon]
mon data = $DIR/mon.\$id

[osd]
osd data = $DIR/osd.\$id
osd objectstore = $OBJECTSTORE
memstore device bytes = $MEMSTORE_BYTES
# bluestore only: a sparse block file, no fsck at mkfs, a fixed 64 MiB cache and the smallest memory target.
bluestore block size = $BLUESTORE_BYTES
bluestore fsck on mkfs = false
bluestore cache autotune = false
bluestore cache size = 67108864
osd memory target = 939524096

[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
rgw enable usage log = false
rgw thread pool size = 64
# Deleted objects' tails (and aborted uploads' parts) are freed within a minute, not two hours: memstore is RAM.
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
}

free_port_from() { # the first port at or after $1 that nothing listens on
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}

cmd_start() {
  if running; then cmd_status; return 0; fi
  command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null && command -v radosgw >/dev/null \
    || die "Ceph is not installed (bash scripts/ceph-s3.sh install)"
  port_free "$PORT" || die "port $PORT on 127.0.0.1 is taken by something else (set CEPH_S3_PORT)"
  cmd_stop >/dev/null 2>&1 # leftovers of a half-started cluster
  local t0=$SECONDS
  mkdir -p "$DIR"/{run,log,crash,rgw,mon.a,osd.0} || die "cannot create $DIR"

  local fsid mon_port osd_port osd_uuid
  fsid=$(cat /proc/sys/kernel/random/uuid) osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port_from 16789)
  osd_port=17300
  write_conf "$fsid" "$mon_port" "$osd_port"

  # Keyrings: the mon's own, and client.admin (imported into the mon's so the mon knows it from its first start).
  ceph-authtool --create-keyring "$DIR/mon.a.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null \
    && ceph-authtool --create-keyring "$DIR/client.admin.keyring" --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null \
    && ceph-authtool "$DIR/mon.a.keyring" --import-keyring "$DIR/client.admin.keyring" >/dev/null \
    && monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" >/dev/null \
    || die "keyring or monmap creation failed"

  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.a.keyring" >>"$DIR/log/setup.log" 2>&1 \
    || die "ceph-mon --mkfs failed: $(tail -n 3 "$DIR/log/setup.log" | tr '\n' ' ')"
  ceph-mon -c "$CONF" -i a >>"$DIR/log/setup.log" 2>&1 || die "ceph-mon did not start (see $DIR/log/mon.a.log)"
  wait_for "the mon" 60 ceph_ -s >/dev/null 2>&1 || die "the mon does not answer (see $DIR/log/mon.a.log)"

  # The OSD: registered with a fresh cephx key, formatted (memstore), started.
  local osd_key osd_id
  osd_key=$(ceph-authtool --gen-print-key)
  echo "{\"cephx_secret\": \"$osd_key\"}" >"$DIR/osd.0.secret.json"
  osd_id=$(ceph_ osd new "$osd_uuid" -i "$DIR/osd.0.secret.json" 2>>"$DIR/log/setup.log") || die "ceph osd new failed"
  [ "$osd_id" = 0 ] || die "expected osd id 0, got '$osd_id'"
  ceph-authtool --create-keyring "$DIR/osd.0.keyring" --name osd.0 --add-key "$osd_key" >/dev/null
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/setup.log" 2>&1 \
    || die "ceph-osd --mkfs failed: $(tail -n 3 "$DIR/log/setup.log" | tr '\n' ' ')"
  ceph-osd -c "$CONF" -i 0 >>"$DIR/log/setup.log" 2>&1 || die "ceph-osd did not start (see $DIR/log/osd.0.log)"
  wait_for "the OSD to come up" 60 osd_up || die "the OSD did not come up (see $DIR/log/osd.0.log)"

  # The gateway: its own key, started, then a user with the fixed test credentials.
  ceph_ auth get-or-create client.rgw.gw mon 'allow rw' osd 'allow rwx' -o "$DIR/client.rgw.gw.keyring" \
    >>"$DIR/log/setup.log" 2>&1 || die "rgw key creation failed"
  radosgw -c "$CONF" -n client.rgw.gw >>"$DIR/log/setup.log" 2>&1 || die "radosgw did not start"
  wait_for "radosgw to answer S3" 120 s3_answers || die "radosgw does not answer on 127.0.0.1:$PORT (see $DIR/log/client.rgw.gw.log)"
  timeout 60 radosgw-admin -c "$CONF" user create --uid=artstore-test --display-name="ArtStore tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >>"$DIR/log/setup.log" 2>&1 \
    || die "radosgw-admin user create failed: $(tail -n 3 "$DIR/log/setup.log" | tr '\n' ' ')"
  touch "$DIR/ready" # written last: status says "running" only once the test user exists
  log "started in $((SECONDS - t0))s (mon 127.0.0.1:$mon_port, OSD ports from $osd_port, S3 127.0.0.1:$PORT)"
  cmd_status
}

osd_up() { ceph_ osd dump 2>/dev/null | grep -q '^osd\.0 up'; }

cmd_stop() {
  local pidfile pid
  for pidfile in "$DIR/run/client.rgw.gw.pid" "$DIR/run/osd.0.pid" "$DIR/run/mon.a.pid"; do
    pid_alive "$pidfile" || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null
  done
  # Only remove a directory that looks like ours: a ceph.conf written by this script, or nothing at all.
  if [ -d "$DIR" ] && { [ -f "$CONF" ] || [ -z "$(ls -A "$DIR")" ]; }; then rm -rf "$DIR"; fi
  log "stopped"
}

case "${1:-}" in
  install) mkdir -p "$(dirname "$DIR")"; cmd_install ;;
  start) cmd_start ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  *) echo "usage: $0 install|start|status|stop (CEPH_S3_DIR=$DIR, CEPH_S3_PORT=$PORT)" >&2; exit 2 ;;
esac
