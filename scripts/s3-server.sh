#!/usr/bin/env bash
# Throwaway, loopback-only S3 server (Ceph radosgw 16 on a one-node cluster: mon + osd + radosgw, no cephx)
# with versioning and Object Lock, for copycat-db's tests.
#
#   scripts/s3-server.sh install      apt-get install ceph-mon ceph-osd radosgw (only if missing; as root)
#   scripts/s3-server.sh start DIR    start a cluster whose state lives in DIR and print `export …` lines for eval;
#                                     on a running cluster, just print them. Waits (bounded) until S3 answers HTTP
#   scripts/s3-server.sh stop DIR     stop the cluster in DIR (only the processes this script started); exit 0 if
#                                     it is not running or DIR does not exist
#   scripts/s3-server.sh status DIR   say "running: …" and exit 0 when all three daemons are up, else exit 1
#   scripts/s3-server.sh env DIR      print the `export …` lines again
#
#   eval "$(scripts/s3-server.sh start /tmp/s3)"   # AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, … for the SDK/CLI
#
# Environment:
#   S3_PORT=N            radosgw's HTTP port (default: a free loopback port picked at start)
#   S3_STORE=memstore    the default: fast boot, the OSD holds about twice the stored bytes in RAM; made anew at
#                        every start
#   S3_STORE=bluestore   a sparse file in DIR, for GB-sized runs; a stopped bluestore cluster starts again with its
#                        data (also when S3_STORE is unset)
#   S3_MEMSTORE_BYTES    memstore capacity (default 8 GiB; RAM is only used for what is stored)
#   S3_BLUESTORE_BYTES   size of the sparse bluestore file (default 64 GiB)
#   S3_START_TIMEOUT     seconds to wait for each start-up step (default 60)
#   S3_DEBUG=1           time each step of start and stop
#
# Credentials are fixed: access key copycat-test, secret copycat-test-secret, region us-east-1 (path-style URLs).
# STS is on (AssumeRole at the same endpoint, e.g. AWS_ENDPOINT_URL_STS): the user may assume the role
# arn:aws:iam:::role/copycat-test, which may do anything in S3, and so get temporary keys with a session token.
# Everything binds 127.0.0.1 only. The daemons run as the invoking user (root in CI; no --setuser needed).
# Stdout carries only the `export` lines; progress, timings and errors go to stderr.
set -euo pipefail

ACCESS_KEY=copycat-test
SECRET_KEY=copycat-test-secret
S3_USER=copycat-test
ROLE=copycat-test
REGION=us-east-1
RGW_NAME=client.rgw.copycat
DAEMONS=(rgw osd mon) # stop order

log() { printf 's3-server: %s\n' "$*" >&2; }
# S3_DEBUG=1: time each step of start and stop.
phase() { [ -n "${S3_DEBUG:-}" ] && log "+$(( $(now_ms) - T0 )) ms: $*"; return 0; }
die() { printf 's3-server: error: %s\n' "$*" >&2; exit 1; }
now_ms() { local s; s=$(date +%s%N); echo $((s / 1000000)); }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------------------------------------------- install
PACKAGES=(ceph-mon ceph-osd radosgw)
REQUIRED_CMDS=(ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph)

have_all() {
  local c
  for c in "${REQUIRED_CMDS[@]}"; do command -v "$c" >/dev/null 2>&1 || return 1; done
}

cmd_install() {
  if have_all; then
    log "ceph-mon, ceph-osd and radosgw already installed ($(ceph-mon --version 2>/dev/null | awk '{print $3}'))"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "install needs root (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  local t0 apt_opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  t0=$(now_ms)
  local p need_update=0
  for p in "${PACKAGES[@]}"; do
    # No candidate means the package lists are missing or do not know the package: refresh them first.
    # (no `| grep -q` here: under pipefail an early grep exit SIGPIPEs apt-cache and reads as "missing")
    local policy
    policy=$(apt-cache policy "$p" 2>/dev/null || true)
    [[ "$policy" == *"Candidate: "[0-9]* ]] || need_update=1
  done
  if [ "$need_update" = 1 ]; then
    log "apt-get update (package lists missing or incomplete)"
    apt-get update -q >&2
  fi
  log "apt-get install ${PACKAGES[*]}"
  if ! apt-get install "${apt_opts[@]}" "${PACKAGES[@]}" >&2; then
    [ "$need_update" = 1 ] && die "apt-get install failed"
    # Stale lists name versions the mirror no longer has: refresh once and retry.
    log "install failed; apt-get update and retry"
    apt-get update -q >&2
    apt-get install "${apt_opts[@]}" "${PACKAGES[@]}" >&2
  fi
  have_all || die "installed, but some of ${REQUIRED_CMDS[*]} are still missing"
  log "installed in $(( ($(now_ms) - t0) / 1000 )) s"
}

# ---------------------------------------------------------------------------------------------------- state
# DIR/state.env     STORE, MON_PORT, RGW_PORT, MSGR_MIN, MSGR_MAX, FSID (sourced)
# DIR/pids/NAME     PID of the daemon this script started (NAME = mon, osd, rgw)
# DIR/ceph.conf, DIR/mon, DIR/osd, DIR/run, DIR/log, DIR/crash, DIR/rgw

set_dir() {
  [ -n "${1:-}" ] || die "missing DIR argument"
  mkdir -p -- "$1"
  DIR=$(cd -- "$1" && pwd -P)
  CONF=$DIR/ceph.conf
  STATE=$DIR/state.env
}

daemon_bin() {
  case $1 in mon) echo ceph-mon ;; osd) echo ceph-osd ;; rgw) echo radosgw ;; esac
}

# Process state letter (R, S, D, Z, …) from /proc/PID/stat, or nothing if there is no such process.
proc_state() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
  stat=${stat##*) } # the command name may hold spaces and parentheses: cut after the last ") "
  printf '%s' "${stat%% *}"
}

# Is PID the daemon NAME that this script started for this DIR? (guards against PID reuse)
is_ours() {
  local pid=$1 name=$2 cmdline args
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  { mapfile -d '' args <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
  cmdline="${args[*]} "
  [[ "$cmdline" == *"$(daemon_bin "$name")"* && "$cmdline" == *" -c $CONF "* ]]
}

# Prints the PID of daemon NAME if it is ours and alive (a zombie is dead).
live_pid() {
  local name=$1 pid st
  { read -r pid <"$DIR/pids/$name"; } 2>/dev/null || return 1
  is_ours "$pid" "$name" || return 1
  st=$(proc_state "$pid")
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] || return 1
  echo "$pid"
}

all_running() {
  local d
  [ -f "$STATE" ] || return 1
  for d in "${DAEMONS[@]}"; do live_pid "$d" >/dev/null || return 1; done
}

load_state() {
  [ -f "$STATE" ] || die "no cluster in $DIR (no state.env)"
  # shellcheck disable=SC1090
  . "$STATE"
}

print_env() {
  printf 'export AWS_ENDPOINT_URL_S3=http://127.0.0.1:%s\n' "$RGW_PORT"
  printf 'export AWS_ACCESS_KEY_ID=%s\n' "$ACCESS_KEY"
  printf 'export AWS_SECRET_ACCESS_KEY=%s\n' "$SECRET_KEY"
  printf 'export AWS_REGION=%s\n' "$REGION"
}

# Serialise start/stop on one DIR. The fd is closed for the daemons (they must not inherit the lock).
lock_dir() {
  exec 9>"$DIR/.lock"
  flock -w 300 9 || die "timed out waiting for the lock on $DIR"
}

# ---------------------------------------------------------------------------------------------------- ports
# Local TCP ports in use, IPv4 and IPv6, from /proc so that no tool is needed. With "listen", only listening
# sockets (a TIME_WAIT left by a client of a stopped daemon does not stop the daemon binding again).
used_ports() {
  local f laddr st
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    while read -r _ laddr _ st _; do
      [ "$laddr" = local_address ] && continue
      [ "${1:-}" = listen ] && [ "$st" != 0A ] && continue
      echo $((16#${laddr##*:}))
    done <"$f"
  done
}

# Picks the first port of a free block of COUNT ports, below the ephemeral range (so outgoing connections do
# not take them), at random so that clusters started side by side rarely collide.
pick_ports() {
  local count=$1 used base p ok tries
  used=" $(used_ports | sort -un | tr '\n' ' ') "
  for tries in $(seq 1 200); do
    base=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    ok=1
    for ((p = base; p < base + count; p++)); do
      [[ "$used" == *" $p "* ]] && { ok=0; break; }
    done
    [ "$ok" = 1 ] && { echo "$base"; return 0; }
  done
  die "found no $count free loopback ports"
}

# (Never `producer | grep -q` under pipefail: grep's early exit SIGPIPEs the producer and the pipeline "fails".)
port_free() {
  local used
  used=" $(used_ports listen | tr '\n' ' ') "
  [[ "$used" != *" $1 "* ]]
}

# Does PID hold the socket that listens on 127.0.0.1:PORT? (so that a probe is answered by our daemon, not by
# whatever else took the port)
pid_listens_on() {
  local pid=$1 port=$2 hexport sl laddr raddr st rest inode fd
  hexport=$(printf '%04X' "$port")
  while read -r sl laddr raddr st _ _ _ _ _ inode rest; do
    [ "$st" = 0A ] && [ "${laddr##*:}" = "$hexport" ] || continue
    for fd in /proc/"$pid"/fd/*; do
      [ "$(readlink "$fd" 2>/dev/null)" = "socket:[$inode]" ] && return 0
    done
  done </proc/net/tcp
  return 1
}

# ---------------------------------------------------------------------------------------------------- config
write_conf() {
  local store_conf
  if [ "$STORE" = bluestore ]; then
    store_conf="osd objectstore = bluestore
bluestore block create = true
bluestore block size = ${S3_BLUESTORE_BYTES:-68719476736}
bluestore fsck on mkfs = false
bluestore fsck on mount = false
osd memory target = 1073741824"
  else
    store_conf="osd objectstore = memstore
memstore device bytes = ${S3_MEMSTORE_BYTES:-8589934592}"
  fi
  cat >"$CONF" <<CONF
# Written by scripts/s3-server.sh: a throwaway one-node Ceph cluster, loopback only, no cephx.
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind msgr2 = true
ms bind ipv6 = false
ms bind port min = $MSGR_MIN
ms bind port max = $MSGR_MAX
ms mon client mode = crc
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
keyring = $DIR/keyring
run dir = $DIR/run
crash dir = $DIR/crash
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
log to stderr = false
err to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail crit = 0
mon data avail warn = 0
paxos propose interval = 0.1
paxos min wait = 0.01

[mon]
mon data = $DIR/mon/\$cluster-\$id

[osd]
osd data = $DIR/osd/\$cluster-\$id
$store_conf

[client]
# radosgw hard-codes cephx defaults and never opens its port without these in its own section.
ms mon client mode = crc
auth client required = none

[$RGW_NAME]
ms mon client mode = crc
auth client required = none
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
rgw thread pool size = 64
rgw crypt require ssl = false
# Temporary credentials (session tokens) for tests of the AWS SDK's credential chain; the key seals session tokens.
rgw s3 auth use sts = true
rgw sts key = copycat-sts-key1
CONF
}

write_state() {
  cat >"$STATE.tmp" <<STATE
STORE=$STORE
MON_PORT=$MON_PORT
RGW_PORT=$RGW_PORT
MSGR_MIN=$MSGR_MIN
MSGR_MAX=$MSGR_MAX
FSID=$FSID
STATE
  mv "$STATE.tmp" "$STATE"
}

# ---------------------------------------------------------------------------------------------------- daemons
ceph_cli() { timeout 30 ceph -c "$CONF" --connect-timeout 20 "$@" 2>>"$DIR/log/cli.err"; }

launch() {
  local name=$1; shift
  local bin; bin=$(daemon_bin "$name")
  # -f: stay in the foreground so that $! is the daemon. The lock fd 9 is closed for it, and its output goes to
  # a file so that it never holds the caller's pipes open.
  "$bin" -f -c "$CONF" "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 9>&- &
  echo $! >"$DIR/pids/$name"
}

# Waits until CMD... succeeds, for at most TIMEOUT seconds, checking that daemon NAME is still alive.
wait_for() {
  local what=$1 name=$2; shift 2
  local deadline=$(( $(now_ms) + ${S3_START_TIMEOUT:-60} * 1000 ))
  until "$@" >/dev/null 2>&1; do
    live_pid "$name" >/dev/null || fail_start "$(daemon_bin "$name") exited while waiting for $what"
    [ "$(now_ms)" -lt "$deadline" ] || fail_start "timed out after ${S3_START_TIMEOUT:-60} s waiting for $what"
    sleep 0.2
  done
}

http_answers() {
  if command -v curl >/dev/null 2>&1; then
    local code
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$RGW_PORT/") || return 1
    [ "$code" != 000 ]
  else
    exec 8<>"/dev/tcp/127.0.0.1/$RGW_PORT" || return 1
    printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&8
    local line; IFS= read -r -t 2 line <&8 || { exec 8>&-; return 1; }
    exec 8>&-
    [[ "$line" == HTTP/* ]]
  fi
}

osd_up() {
  local dump
  dump=$(ceph_cli osd dump 2>/dev/null) || return 1
  [[ "$dump" == *$'\nosd.0 up'* ]]
}

rgw_ready() {
  local pid
  pid=$(live_pid rgw) && pid_listens_on "$pid" "$RGW_PORT" && http_answers
}

fail_start() {
  local f
  trap - TERM INT HUP
  # Stop first: if whoever reads our stderr has gone, printing could kill us before the clean-up.
  stop_daemons >/dev/null 2>&1 || true
  {
    printf 's3-server: error: start failed: %s\n' "$1"
    for f in "$DIR"/log/*; do
      [ -s "$f" ] || continue
      printf '\n==> %s (last 20 lines) <==\n' "$f"
      tail -n 20 "$f"
    done
    printf '\ns3-server: the daemons were stopped; logs are in %s/log\n' "$DIR"
  } >&2 || true
  exit 1
}

# Stops our daemons in the order rgw, osd, mon (an OSD whose mon is gone hangs for seconds).
stop_daemons() {
  local d pid sig grace t1 i
  for d in "${DAEMONS[@]}"; do
    if pid=$(live_pid "$d"); then
      sig=TERM grace=15000 # ms
      # radosgw's clean shutdown waits for its background threads (lifecycle sleeps 5 s at a time, and it allows
      # itself 120 s); it keeps no state of its own, so it gets 1 s.
      [ "$d" = rgw ] && grace=1000
      t1=$(now_ms)
      kill -s "$sig" "$pid" 2>/dev/null || true
      while live_pid "$d" >/dev/null && [ $(( $(now_ms) - t1 )) -lt "$grace" ]; do sleep 0.05; done
      if live_pid "$d" >/dev/null; then
        [ "$d" = rgw ] || log "$(daemon_bin "$d") ($pid) ignored SIGTERM for $((grace / 1000)) s: SIGKILL"
        sig=KILL
        kill -s KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do live_pid "$d" >/dev/null || break; sleep 0.1; done
        live_pid "$d" >/dev/null && die "could not stop $(daemon_bin "$d") ($pid)"
      fi
      [ -n "${S3_DEBUG:-}" ] && log "$(daemon_bin "$d") ($pid) stopped by SIG$sig in $(( $(now_ms) - t1 )) ms"
    fi
    rm -f "$DIR/pids/$d"
  done
}

# ---------------------------------------------------------------------------------------------------- commands
cmd_start() {
  set_dir "$1"
  lock_dir
  local t0; t0=$(now_ms); T0=$t0
  if all_running; then
    load_state
    log "already running in $DIR (http://127.0.0.1:$RGW_PORT)"
    print_env
    return 0
  fi
  have_all || die "ceph is not installed: run '$0 install' (as root)"
  # Killed half-way (e.g. a test runner's timeout): leave no daemon behind.
  trap 'fail_start "interrupted"' TERM INT HUP
  # Leftovers of a half-started or half-stopped cluster.
  if [ -f "$STATE" ]; then . "$STATE"; fi
  stop_daemons

  # Without S3_STORE, a stopped bluestore cluster in DIR is started again rather than replaced.
  local want_store=${S3_STORE:-} fresh=1
  if [ -z "$want_store" ]; then
    if [ "${STORE:-}" = bluestore ] && [ -f "$DIR/.initialised" ]; then want_store=bluestore; else want_store=memstore; fi
  fi
  case "$want_store" in memstore|bluestore) ;; *) die "S3_STORE must be memstore or bluestore, not '$want_store'" ;; esac
  # A stopped bluestore cluster keeps its data: start it again as it was. Everything else is made anew.
  if [ -f "$STATE" ] && [ "${STORE:-}" = bluestore ] && [ "$want_store" = bluestore ] && [ -f "$DIR/.initialised" ]; then
    fresh=0
    if [ -n "${S3_PORT:-}" ] && [ "$S3_PORT" != "$RGW_PORT" ]; then RGW_PORT=$S3_PORT; fi
    local p
    for p in "$MON_PORT" "$RGW_PORT"; do port_free "$p" || die "port $p of the stopped cluster in $DIR is taken"; done
  else
    rm -rf -- "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log" "$DIR/crash" "$DIR/rgw" "$DIR/pids" \
      "$DIR/monmap" "$DIR/.initialised" "$STATE" "$CONF"
    STORE=$want_store
    FSID=$(cat /proc/sys/kernel/random/uuid)
    MSGR_MIN=$(pick_ports 12)
    while [ -n "${S3_PORT:-}" ] && [ "$S3_PORT" -ge "$MSGR_MIN" ] 2>/dev/null && [ "$S3_PORT" -le $((MSGR_MIN + 11)) ]; do
      MSGR_MIN=$(pick_ports 12) # keep clear of the chosen S3_PORT
    done
    MSGR_MAX=$((MSGR_MIN + 9))
    MON_PORT=$((MSGR_MIN + 10))
    if [ -n "${S3_PORT:-}" ]; then
      [[ "$S3_PORT" =~ ^[0-9]+$ ]] || die "S3_PORT must be a port number"
      port_free "$S3_PORT" || die "S3_PORT $S3_PORT is in use on this machine"
      RGW_PORT=$S3_PORT
    else
      RGW_PORT=$((MSGR_MIN + 11))
    fi
  fi
  mkdir -p "$DIR/run" "$DIR/log" "$DIR/crash" "$DIR/rgw" "$DIR/pids" "$DIR/osd/ceph-0" "$DIR/mon"
  write_conf
  write_state

  if [ "$fresh" = 1 ]; then
    monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >>"$DIR/log/setup.log" 2>&1 ||
      fail_start "monmaptool failed"
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >>"$DIR/log/setup.log" 2>&1 || fail_start "ceph-mon --mkfs failed"
  fi
  phase "configured"
  launch mon -i a
  wait_for "the monitor" mon ceph_cli mon stat
  phase "mon up"
  if [ "$fresh" = 1 ]; then
    ceph_cli osd create >>"$DIR/log/setup.log" || fail_start "ceph osd create failed"
    ceph-osd -c "$CONF" -i 0 --mkfs >>"$DIR/log/setup.log" 2>&1 || fail_start "ceph-osd --mkfs failed"
    ceph_cli osd crush add osd.0 1 root=default host=localhost >>"$DIR/log/setup.log" 2>&1 ||
      fail_start "ceph osd crush add failed"
  fi
  phase "osd created"
  launch osd -i 0
  wait_for "the OSD to come up" osd osd_up
  phase "osd up"
  launch rgw -n "$RGW_NAME"
  wait_for "radosgw to answer HTTP on 127.0.0.1:$RGW_PORT" rgw rgw_ready
  phase "rgw answers HTTP"
  if ! radosgw-admin -c "$CONF" -n "$RGW_NAME" user info --uid="$S3_USER" >/dev/null 2>>"$DIR/log/cli.err"; then
    radosgw-admin -c "$CONF" -n "$RGW_NAME" user create --uid="$S3_USER" --display-name="copycat-db tests" \
      --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >>"$DIR/log/setup.log" 2>&1 ||
      fail_start "radosgw-admin user create failed"
  fi
  if ! radosgw-admin -c "$CONF" -n "$RGW_NAME" role get --role-name="$ROLE" >/dev/null 2>>"$DIR/log/cli.err"; then
    radosgw-admin -c "$CONF" -n "$RGW_NAME" role create --role-name="$ROLE" --path=/ \
      --assume-role-policy-doc="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam:::user/$S3_USER\"]},\"Action\":[\"sts:AssumeRole\"]}]}" \
      >>"$DIR/log/setup.log" 2>&1 || fail_start "radosgw-admin role create failed"
    radosgw-admin -c "$CONF" -n "$RGW_NAME" role-policy put --role-name="$ROLE" --policy-name=s3 \
      --policy-doc='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"arn:aws:s3:::*"}]}' \
      >>"$DIR/log/setup.log" 2>&1 || fail_start "radosgw-admin role-policy put failed"
  fi
  touch "$DIR/.initialised"
  trap - TERM INT HUP
  local ms=$(( $(now_ms) - t0 ))
  log "started in $((ms / 1000)).$(printf '%03d' $((ms % 1000)) | cut -c1) s: http://127.0.0.1:$RGW_PORT ($STORE, $DIR)"
  print_env
}

cmd_stop() {
  [ -n "${1:-}" ] || die "missing DIR argument"
  [ -d "$1" ] || { log "nothing to stop: $1 does not exist"; return 0; }
  [ -f "$1/state.env" ] || [ -d "$1/pids" ] || { log "nothing to stop: no cluster in $1"; return 0; }
  set_dir "$1"
  lock_dir
  if [ -f "$STATE" ]; then . "$STATE"; fi
  local t0; t0=$(now_ms)
  stop_daemons
  log "stopped in $(( $(now_ms) - t0 )) ms ($DIR)"
}

cmd_status() {
  [ -n "${1:-}" ] || die "missing DIR argument"
  [ -f "$1/state.env" ] || { echo "stopped (no cluster in $1)"; return 1; }
  set_dir "$1"
  load_state
  local d pid line="" up=0
  for d in "${DAEMONS[@]}"; do
    if pid=$(live_pid "$d"); then line+=" $d=$pid"; up=$((up + 1)); else line+=" $d=down"; fi
  done
  if [ "$up" = 3 ]; then
    echo "running: http://127.0.0.1:$RGW_PORT ($STORE)$line"
    return 0
  fi
  [ "$up" = 0 ] && echo "stopped:$line" || echo "partly running:$line"
  return 1
}

cmd_env() {
  [ -n "${1:-}" ] || die "missing DIR argument"
  [ -f "$1/state.env" ] || die "no cluster in $1"
  set_dir "$1"
  load_state
  all_running || log "warning: the cluster in $DIR is not running"
  print_env
}

# ---------------------------------------------------------------------------------------------------- main
main() {
  [ $# -ge 1 ] || usage
  local cmd=$1; shift
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start "${1:-}" ;;
    stop) cmd_stop "${1:-}" ;;
    status) cmd_status "${1:-}" ;;
    env) cmd_env "${1:-}" ;;
    -h|--help|help) usage ;;
    *) die "unknown command: $cmd (install|start|stop|status|env)" ;;
  esac
}

main "$@"
