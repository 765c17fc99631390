# lib.sh — helpers shared by the e2e scripts (sourced, not run).
# shellcheck shell=bash

E2E_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_TOP=$(git -C "$E2E_SCRIPTS" rev-parse --show-toplevel 2>/dev/null || (cd "$E2E_SCRIPTS/.." && pwd))
E2E_BUILD_DEFAULT="$E2E_TOP/build/e2e"

log() { echo "[$(basename "$0")] $*" >&2; }
die() { echo "[$(basename "$0")] ERROR: $*" >&2; exit 1; }

# apt_get ARGS...: apt-get that waits for another apt/dpkg run (a concurrent
# install on the same machine holds /var/lib/apt/lists/lock or the dpkg lock)
# instead of failing at once.
apt_get() {
  local i err
  err=$(mktemp)
  for i in $(seq 1 120); do
    if apt-get -o DPkg::Lock::Timeout=300 "$@" 2>"$err"; then rm -f "$err"; return 0; fi
    if grep -qE 'Could not get lock|Unable to lock' "$err"; then
      ((i == 1)) && log "apt-get $1: waiting for another apt run to finish"
      sleep 5
      continue
    fi
    cat "$err" >&2; rm -f "$err"; return 1
  done
  cat "$err" >&2; rm -f "$err"; return 1
}

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }

# debarch <ARCH>: Debian architecture name for amd64/x86_64/arm64/aarch64.
debarch() {
  case "${1:-amd64}" in
    amd64|x86_64) echo amd64 ;;
    arm64|aarch64) echo arm64 ;;
    *) die "unknown arch: $1" ;;
  esac
}
# unamearch <ARCH>: kernel spelling.
unamearch() {
  case "$(debarch "$1")" in
    amd64) echo x86_64 ;;
    arm64) echo aarch64 ;;
  esac
}
# triplet <ARCH>: Debian multiarch triplet.
triplet() { echo "$(unamearch "$1")-linux-gnu"; }

# apt_lists_ready <debarch>: make sure apt knows packages of that architecture.
apt_lists_ready() {
  local a=$1
  if [[ $a != "$(dpkg --print-architecture)" ]]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
      log "dpkg --add-architecture $a"
      dpkg --add-architecture "$a"
    fi
  fi
  if ! apt-cache show "libc6:$a" >/dev/null 2>&1; then
    log "apt-get update (no package lists for $a)"
    apt_get update -qq
  fi
}

# deb_fetch <cachedir> <pkg:arch>...: download .debs into cachedir unless present; prints nothing.
# A package is "present" when cachedir/<pkg>_<arch>.deb exists (we rename to drop the version).
deb_fetch() {
  local dir=$1; shift
  mkdir -p "$dir"
  local want=() p name arch
  for p in "$@"; do
    name=${p%%:*}; arch=${p#*:}
    [[ -s "$dir/${name}_${arch}.deb" ]] || want+=("$p")
  done
  ((${#want[@]})) || return 0
  local tmp; tmp=$(mktemp -d "$dir/.dl.XXXXXX")
  chmod 755 "$tmp"
  # private binary package cache: this image disables apt's, so each call would re-parse all lists
  mkdir -p "$dir/aptcache"
  local o=(-o "Dir::Cache::pkgcache=$dir/aptcache/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$dir/aptcache/srcpkgcache.bin")
  if ! (cd "$tmp" && apt-get "${o[@]}" download -qq "${want[@]}" </dev/null >/dev/null 2>"$tmp/err"); then
    # stale lists: refresh once and retry
    log "apt-get download failed ($(grep -m1 -E '^E:' "$tmp/err" || true)); running apt-get update and retrying"
    apt_get update -qq
    (cd "$tmp" && apt-get "${o[@]}" download -qq "${want[@]}" </dev/null >/dev/null 2>"$tmp/err") || { cat "$tmp/err" >&2; rm -rf "$tmp"; die "apt-get download ${want[*]} failed"; }
  fi
  for p in "${want[@]}"; do
    name=${p%%:*}; arch=${p#*:}
    local f
    f=$(ls "$tmp/${name}_"*"_${arch}.deb" "$tmp/${name}_"*"_all.deb" 2>/dev/null | head -1) || true
    [[ -n $f ]] || die "download of $p produced no .deb"
    mv "$f" "$dir/${name}_${arch}.deb"
  done
  rm -rf "$tmp"
}

# deb_unpack <cachedir> <pkg:arch> <dest>: dpkg-deb -x (cached per package under cachedir/x/).
deb_unpacked() {
  local dir=$1 p=$2 name arch
  name=${p%%:*}; arch=${p#*:}
  local x="$dir/x/${name}_${arch}"
  if [[ ! -e "$x/.done" ]]; then
    deb_fetch "$dir" "$p"
    rm -rf "$x"; mkdir -p "$x"
    dpkg-deb -x "$dir/${name}_${arch}.deb" "$x"
    touch "$x/.done"
  fi
  echo "$x"
}

# wait_port HOST PORT SECONDS
wait_port() {
  local h=$1 p=$2 t=$3 i
  for ((i = 0; i < t * 10; i++)); do
    if (exec 3<>"/dev/tcp/$h/$p") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# alive PID: process exists and is not a zombie (PID 1 here may reap daemons late).
alive() {
  local s
  kill -0 "$1" 2>/dev/null || return 1
  s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo Z)
  [[ $s != Z && $s != X ]]
}

# stop_pid PID NAME: TERM, wait up to 5 s, then KILL.
stop_pid() {
  local pid=$1 name=$2 i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || return 0; sleep 0.1; done
  log "$name ($pid) still alive after 5 s; sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do alive "$pid" || return 0; sleep 0.1; done
}
