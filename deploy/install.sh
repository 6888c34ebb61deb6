#!/bin/sh
# Install one triplex board as a systemd service: Raspberry Pi OS (bookworm) and Debian 12 x86 alike.
# See deploy/README.md for what each step does and how to do it by hand.
#
#   sudo deploy/install.sh --board b0 --config config/serial-mesh.json --keys keys/
#       [--prefix /opt/triplex] [--realtime auto|yes|no] [--hardware-watchdog] [--no-enable]
#       [--root DIR] [--dry-run]
#
# --root DIR writes everything under DIR instead of / and skips users, owners and systemctl (for images and
# for the test); --dry-run prints the commands instead of running them.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
BOARD=
CONFIG=
KEYS=
PREFIX=/opt/triplex
REALTIME=auto
HWDOG=0
ENABLE=1
ROOT=
DRYRUN=0
RT_PRIORITY=40

die() { echo "install.sh: $*" >&2; exit 2; }
say() { echo "install.sh: $*"; }
run() { if [ "$DRYRUN" = 1 ]; then echo "+ $*"; else "$@"; fi; }

while [ $# -gt 0 ]; do
  case "$1" in
    --board) BOARD=${2:-}; shift 2 ;;
    --config) CONFIG=${2:-}; shift 2 ;;
    --keys) KEYS=${2:-}; shift 2 ;;
    --prefix) PREFIX=${2:-}; shift 2 ;;
    --realtime) REALTIME=${2:-}; shift 2 ;;
    --hardware-watchdog) HWDOG=1; shift ;;
    --no-enable) ENABLE=0; shift ;;
    --root) ROOT=${2:-}; shift 2 ;;
    --dry-run) DRYRUN=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

[ -n "$BOARD" ] || die "--board NAME is required"
[ -n "$CONFIG" ] || die "--config FILE is required"
[ -n "$KEYS" ] || die "--keys DIR is required (written by: triplex keys gen --config FILE --out DIR)"
[ -r "$CONFIG" ] || die "cannot read the config $CONFIG"
[ -r "$KEYS/public.json" ] || die "no $KEYS/public.json: not a key directory"
case "$REALTIME" in auto|yes|no) ;; *) die "--realtime takes auto, yes or no" ;; esac
if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then die "run as root (or with --root DIR)"; fi

# Node 20 or later, where the unit runs it.
command -v node >/dev/null 2>&1 || die "node is not installed (Debian/Pi OS: apt install nodejs, version 20 or later)"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || die "node $NODE_MAJOR is too old: 20 or later is needed"
[ -x /usr/bin/node ] || say "warning: the unit runs /usr/bin/node, which does not exist here; edit ExecStart="
[ -e "$SRC/node_modules/tsx" ] || die "$SRC has no node_modules: run 'npm ci' in $SRC first (tsx runs the TypeScript)"

# What this board runs, holds and opens, from the topology.
INFO=$(cd "$SRC" && node --import tsx deploy/board-info.ts --config "$CONFIG" --board "$BOARD") ||
  die "the topology $CONFIG does not describe board '$BOARD'"
say "board $BOARD runs: $(echo "$INFO" | sed -n 's/^role //p' | tr '\n' ' ')"

owner() { # install(1) owner flags, or none under --root (the user may not exist in an image yet)
  if [ -z "$ROOT" ]; then echo "-o $1 -g $2"; fi
}

# 1. The service user (systemd-sysusers where present, else useradd).
if [ -z "$ROOT" ]; then
  run install -D -m 0644 "$SRC/deploy/sysusers.d/triplex.conf" /etc/sysusers.d/triplex.conf
  if command -v systemd-sysusers >/dev/null 2>&1; then
    run systemd-sysusers /etc/sysusers.d/triplex.conf
  elif ! id triplex >/dev/null 2>&1; then
    run useradd --system --home-dir /var/lib/triplex --shell /usr/sbin/nologin --groups dialout triplex
  fi
else
  run install -D -m 0644 "$SRC/deploy/sysusers.d/triplex.conf" "$ROOT/etc/sysusers.d/triplex.conf"
fi

# 2. The code, read-only to the service (ProtectSystem=strict and ReadOnlyPaths in the unit).
run mkdir -p "$ROOT$PREFIX"
if [ "$DRYRUN" = 1 ]; then
  echo "+ copy $SRC -> $ROOT$PREFIX (without .git, keys, reports, build output and development-only tools)"
else
  # Development-only tools (lint, type check, test runner, browser driver) never run on a board; tsx and its
  # esbuild do, since the board runs the TypeScript sources.
  (cd "$SRC" && tar --exclude=./.git --exclude=./keys --exclude=./reports --exclude=./firmware-bridge/build \
    --exclude=./node_modules/@biomejs --exclude=./node_modules/typescript --exclude=./node_modules/playwright-core \
    --exclude=./node_modules/vitest --exclude=./node_modules/@vitest --exclude=./node_modules/vite \
    --exclude=./node_modules/@rolldown --exclude='./node_modules/lightningcss*' -cf - .) | (cd "$ROOT$PREFIX" && tar -xf -)
fi

# 3. The topology and the keys: private keys mode 0600, owned by the service user, in a 0700 directory.
#    Only this board's private keys are installed: a board never holds another board's secrets.
# shellcheck disable=SC2046
run install -D -m 0640 $(owner root triplex) "$CONFIG" "$ROOT/etc/triplex/topology.json"
# shellcheck disable=SC2046
run install -d -m 0700 $(owner triplex triplex) "$ROOT/etc/triplex/keys"
# shellcheck disable=SC2046
run install -m 0644 $(owner root root) "$KEYS/public.json" "$ROOT/etc/triplex/keys/public.json"
for name in $(echo "$INFO" | sed -n 's/^key //p'); do
  [ -r "$KEYS/$name.key" ] || die "missing private key $KEYS/$name.key for board $BOARD"
  # shellcheck disable=SC2046
  run install -m 0600 $(owner triplex triplex) "$KEYS/$name.key" "$ROOT/etc/triplex/keys/$name.key"
done
for f in "$KEYS"/*.key; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .key)
  echo "$INFO" | grep -qx "key $name" || say "not installing $f: it belongs to another board"
done

# 4. The unit and its drop-ins.
UNIT_DIR="$ROOT/etc/systemd/system"
DROPIN="$UNIT_DIR/triplex-board@.service.d"
run install -D -m 0644 "$SRC/deploy/systemd/triplex-board@.service" "$UNIT_DIR/triplex-board@.service"
run mkdir -p "$DROPIN"
if [ "$PREFIX" != /opt/triplex ]; then
  if [ "$DRYRUN" = 1 ]; then echo "+ rewrite /opt/triplex -> $PREFIX in the unit"; else
    sed -i "s|/opt/triplex|$PREFIX|g" "$UNIT_DIR/triplex-board@.service"
  fi
fi
DEVICES=$(echo "$INFO" | sed -n 's/^device //p')
if [ "$DRYRUN" = 1 ]; then echo "+ write $DROPIN/20-devices.conf: $DEVICES"; else
  {
    echo "# Written by deploy/install.sh for board $BOARD from $CONFIG: the serial ports it opens."
    echo "[Service]"
    for d in $DEVICES; do echo "DeviceAllow=$d rw"; done
  } >"$DROPIN/20-devices.conf"
  chmod 0644 "$DROPIN/20-devices.conf"
fi
for d in $DEVICES; do [ -n "$ROOT" ] || [ -e "$d" ] || say "warning: $d does not exist (yet): the board will fail to open it"; done

# 5. Real-time scheduling, where the kernel grants it; otherwise the unit's Nice=-10 fallback.
rt_works() {
  [ "$(cat /proc/sys/kernel/sched_rt_runtime_us 2>/dev/null || echo 0)" != 0 ] || return 1
  # cgroup v1 with RT group scheduling gives a service's cgroup no RT budget: systemd would fail 214/SETSCHEDULER.
  [ ! -e /sys/fs/cgroup/cpu/cpu.rt_runtime_us ] || return 1
  command -v chrt >/dev/null 2>&1 && chrt -f "$RT_PRIORITY" true 2>/dev/null
}
USE_RT=0
case "$REALTIME" in
  yes) USE_RT=1 ;;
  auto) if [ -z "$ROOT" ] && rt_works; then USE_RT=1; fi ;;
esac
if [ "$USE_RT" = 1 ]; then
  say "real-time scheduling: SCHED_FIFO priority $RT_PRIORITY"
  run install -m 0644 "$SRC/deploy/systemd/triplex-board@.service.d/10-realtime.conf" "$DROPIN/10-realtime.conf"
else
  say "real-time scheduling: off (Nice=-10); --realtime yes forces it"
  run rm -f "$DROPIN/10-realtime.conf"
fi

# 6. The hardware watchdog, driven by systemd itself.
if [ "$HWDOG" = 1 ]; then
  run install -D -m 0644 "$SRC/deploy/systemd/system.conf.d/50-triplex-watchdog.conf" \
    "$ROOT/etc/systemd/system.conf.d/50-triplex-watchdog.conf"
  if [ -z "$ROOT" ] && [ ! -e /dev/watchdog ]; then
    say "warning: no /dev/watchdog (Raspberry Pi: dtparam=watchdog=on in /boot/firmware/config.txt, then reboot;"
    say "         x86: load the driver, e.g. modprobe iTCO_wdt, and check with wdctl)"
  fi
fi

# 7. Start it.
if [ -z "$ROOT" ]; then
  run systemctl daemon-reload
  [ "$HWDOG" = 0 ] || run systemctl daemon-reexec
  if [ "$ENABLE" = 1 ]; then run systemctl enable --now "triplex-board@$BOARD.service"; fi
fi
echo "$INFO" | sed -n 's/^recovery /install.sh: /p'
say "done: systemctl status triplex-board@$BOARD; journalctl -u triplex-board@$BOARD -f"
