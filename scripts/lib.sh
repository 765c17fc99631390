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
    if apt-get "${APT_O[@]}" -o DPkg::Lock::Timeout=300 "$@" 2>"$err"; then rm -f "$err"; return 0; fi
    if grep -qE 'Could not get lock|Unable to lock' "$err"; then
      ((i == 1)) && log "apt-get $1: waiting for another apt run to finish"
      sleep 5
      continue
    fi
    cat "$err" >&2; rm -f "$err"; return 1
  done
  cat "$err" >&2; rm -f "$err"; return 1
}

# APT_O: extra options for every apt-get/apt-cache call of these helpers. Empty: the host's own
# apt (its sources, lists and state). apt_suite SUITE sets it to a private apt for another Debian
# release, so the host's sources and state are never touched.
APT_O=()
APT_SUITE=""

# host_debian_uri: the Debian archive URI the host's own sources name (deb822 .sources first,
# then one-line sources.list), for the host's codename; prints "URI|SIGNED_BY".
host_debian_uri() {
  local code f uri="" sb="" line
  code=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  [[ -n $code ]] || die "no VERSION_CODENAME in /etc/os-release"
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # one stanza per paragraph; take the first whose Suites has the bare codename
    uri=$(awk -v code="$code" 'BEGIN{RS=""; FS="\n"}
      { u=""; s=""; k=""; t="";
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^#/) continue
          if ($i ~ /^Types:/) t=$i
          if ($i ~ /^URIs:/) { u=$i; sub(/^URIs:[ \t]*/, "", u); split(u, a, /[ \t]+/); u=a[1] }
          if ($i ~ /^Suites:/) s=" " substr($i, 8) " "
          if ($i ~ /^Signed-By:/) { k=$i; sub(/^Signed-By:[ \t]*/, "", k) }
          if ($i ~ /^Enabled:[ \t]*no/) u=""
        }
        gsub(/\t/, " ", s)
        if (u != "" && t ~ /deb( |$)/ && index(s, " " code " ")) { print u "|" k; exit }
      }' "$f")
    [[ -n $uri ]] && { echo "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    while read -r line; do
      # deb [options] URI SUITE COMPONENTS...
      line=${line%%#*}
      [[ $line == deb\ * ]] || continue
      line=${line#deb }
      [[ $line == \[* ]] && line=${line#*] }
      read -r uri s _ <<<"$line"
      [[ $s == "$code" ]] && { echo "$uri|"; return 0; }
    done <"$f"
  done
  die "the host's apt sources name no Debian archive for $code (looked in /etc/apt/sources.list{,.d/})"
}

# apt_suite SUITE STATEDIR DEBARCH: point APT_O at a private apt for SUITE (a Debian release such
# as trixie) on the same archive the host uses: its own sources.list, lists, cache and an empty
# dpkg status under STATEDIR. The host's sources and state are never read or changed.
apt_suite() {
  local suite=$1 st=$2 da=$3 hu uri sb
  mkdir -p "$st/lists/partial" "$st/cache/archives/partial" "$st/etc"
  st=$(cd "$st" && pwd)
  hu=$(host_debian_uri)
  uri=${hu%%|*}; sb=${hu#*|}
  [[ -n $sb ]] || sb=/usr/share/keyrings/debian-archive-keyring.gpg
  local want="deb [arch=$da signed-by=$sb] $uri $suite main"
  [[ -f $st/etc/sources.list && "$(cat "$st/etc/sources.list")" == "$want" ]] || echo "$want" >"$st/etc/sources.list"
  [[ -f $st/status ]] || : >"$st/status"
  APT_SUITE=$suite
  APT_O=(-o "Dir::Etc::sourcelist=$st/etc/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$st/lists" -o "Dir::Cache=$st/cache" -o "Dir::State::status=$st/status"
    -o "APT::Architecture=$da" -o "APT::Architectures=$da"
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
    -o "APT::Sandbox::User=root")
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
  if [[ -n $APT_SUITE ]]; then
    # a private apt (apt_suite): its lists are its own; fetch them once
    if ! apt-cache "${APT_O[@]}" show "libc6:$a" >/dev/null 2>&1; then
      log "apt-get update of the private $APT_SUITE lists"
      apt_get update -qq
    fi
    return 0
  fi
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
  if ! (cd "$tmp" && apt-get "${APT_O[@]}" "${o[@]}" download -qq "${want[@]}" </dev/null >/dev/null 2>"$tmp/err"); then
    # stale lists: refresh once and retry
    log "apt-get download failed ($(grep -m1 -E '^E:' "$tmp/err" || true)); running apt-get update and retrying"
    apt_get update -qq
    (cd "$tmp" && apt-get "${APT_O[@]}" "${o[@]}" download -qq "${want[@]}" </dev/null >/dev/null 2>"$tmp/err") || { cat "$tmp/err" >&2; rm -rf "$tmp"; die "apt-get download ${want[*]} failed"; }
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
