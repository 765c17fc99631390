#!/usr/bin/env bash
# cluster2411.sh — a live one-node SLURM 24.11 cluster on 127.0.0.1 with auth/slurm and configless:
# Debian 13's slurmctld, slurmd and sackd packages (and their libraries) unpacked into a Debian 13 root
# and run there under chroot. The packages come through the private trixie apt (lib.sh apt_suite).
#
# Usage: scripts/cluster2411.sh start STATEDIR [BUILDDIR]
#        scripts/cluster2411.sh stop STATEDIR
#
# start: ROOT=STATEDIR/root: a fresh copy of a cached template (BUILDDIR/roots/ctld-trixie-<arch>:
#        mkroot.sh glibc-trixie + slurmctld, slurmd, sackd, slurm-client, slurm-wlm-basic-plugins and
#        every lib* package they need, dpkg-deb -x'ed); the daemons under their plain names
#        (Debian installs slurmctld-wlm/slurmd-wlm/slurmstepd-wlm: under those names 24.11 dies with "certmgr plugin
#        only allowed on slurmctld and slurmd"); /proc and /sys (read-only) mounted in ROOT;
#        ROOT/etc/hosts resolves this host's name to 127.0.0.1 (slurmctld resolves its own name);
#        slurm.key (random, 0600) in ROOT/etc/slurm and STATEDIR/slurm.key (what a client mounts);
#        slurm.conf: ClusterName=e24, SlurmctldHost=<host>(127.0.0.1), auth/slurm, cred/slurm,
#        enable_configless, free ports; cgroup.conf CgroupPlugin=disabled (no cgroups in a chroot).
#        Waits (≤30 s) until the root's own sinfo shows the node idle. Writes STATEDIR/env.
# stop:  stops the daemons (pid files) and unmounts what start mounted.
# Nothing listens beyond 127.0.0.1: CommunicationParameters=NoCtldInAddrAny,NoInAddrAny makes
# slurmctld and slurmd bind their ports on 127.0.0.1 only (as cluster.sh's 22.05 cluster does).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

usage() { echo "usage: $0 start STATEDIR [BUILDDIR] | stop STATEDIR" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
CMD=$1 ST=$2 BUILD=${3:-$E2E_BUILD_DEFAULT}
NODE=e24node
DA=$(debarch "${ARCH:-amd64}") UA=$(unamearch "$DA") TRIP=$(triplet "$DA")

template() {
  local tpl=$BUILD/roots/ctld-trixie-$UA key
  key="$(cat "$E2E_SCRIPTS/cluster2411.sh" "$E2E_SCRIPTS/lib.sh" "$E2E_SCRIPTS/mkroot.sh" | sha256sum | cut -c1-16)"
  if [[ -f $tpl.stamp && "$(cat "$tpl.stamp")" == "$key" && -x $tpl/usr/sbin/slurmctld ]]; then echo "$tpl"; return; fi
  rm -rf "$tpl" "$tpl.stamp"
  "$E2E_SCRIPTS/mkroot.sh" glibc-trixie "$tpl" "$BUILD" >&2
  apt_suite trixie "$BUILD/apt-trixie" "$DA"
  apt_lists_ready "$DA"
  local debs=$BUILD/debs-trixie
  mkdir -p "$debs/aptcache"
  local aptc=(apt-cache "${APT_O[@]}" -o "Dir::Cache::pkgcache=$debs/aptcache/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$debs/aptcache/srcpkgcache.bin")
  declare -A seen=()
  local queue=(slurmctld slurmd sackd slurm-client slurm-wlm-basic-plugins) p d
  while ((${#queue[@]})); do
    p=${queue[0]}; queue=("${queue[@]:1}")
    [[ -n ${seen[$p]:-} ]] && continue
    seen[$p]=1
    for d in $("${aptc[@]}" depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$p:$DA" 2>/dev/null |
      awk '$1 ~ /Depends:/ && $2 !~ /^</ {print $2}' | sed 's/:.*//' | grep -E '^(lib|zlib1g$|slurm-wlm-basic-plugins$)' |
      grep -vxE 'libc6|libc-bin|libgcc-s1' | sort -u); do
      [[ -n ${seen[$d]:-} ]] || queue+=("$d")
    done
  done
  local x
  for p in "${!seen[@]}"; do
    log "unpacking $p:$DA"
    x=$(deb_unpacked "$debs" "$p:$DA") || die "unpacking $p:$DA failed"
    [[ -n $x && $x == "$debs"/* && -d $x ]] || die "unpacking $p:$DA gave no directory"
    cp -a "$x"/. "$tpl/"
  done
  local w
  for w in slurmctld slurmd slurmstepd; do
    [[ -x $tpl/usr/sbin/$w-wlm ]] && ln -sf "$w-wlm" "$tpl/usr/sbin/$w"
  done
  [[ -x $tpl/usr/sbin/slurmctld && -x $tpl/usr/sbin/slurmd && -x $tpl/usr/sbin/sackd ]] || die "no slurmctld/slurmd/sackd in $tpl/usr/sbin"
  # the daemons must run under their plain names: make them real files, not links to *-wlm
  for w in slurmctld slurmd slurmstepd; do
    if [[ -L $tpl/usr/sbin/$w ]]; then cp --remove-destination "$(readlink -f "$tpl/usr/sbin/$w")" "$tpl/usr/sbin/$w"; fi
  done
  chroot "$tpl" /sbin/ldconfig 2>/dev/null || true
  echo "$key" >"$tpl.stamp"
  echo "$tpl"
}

start() {
  mkdir -p "$ST"; ST=$(cd "$ST" && pwd)
  stop || true
  local tpl root=$ST/root
  tpl=$(template)
  rm -rf "$root"; cp -a "$tpl" "$root"
  mkdir -p "$root/proc" "$root/sys" "$root/etc/slurm" "$root/var/spool/slurmctld" "$root/var/spool/slurmd" "$root/run" "$root/var/log"
  mount -t proc proc "$root/proc"
  mount --bind /sys "$root/sys"; mount -o remount,bind,ro "$root/sys" || true
  local host; host=$(hostname)
  grep -q " $host\$" "$root/etc/hosts" 2>/dev/null || echo "127.0.0.1 $host" >>"$root/etc/hosts"
  dd if=/dev/urandom of="$root/etc/slurm/slurm.key" bs=1024 count=1 status=none
  chmod 600 "$root/etc/slurm/slurm.key"
  cp "$root/etc/slurm/slurm.key" "$ST/slurm.key"; chmod 600 "$ST/slurm.key"
  local cport dport line cpus
  cport=$("$E2E_SCRIPTS/freeport.sh"); dport=$("$E2E_SCRIPTS/freeport.sh")
  while [[ $dport == "$cport" ]]; do dport=$("$E2E_SCRIPTS/freeport.sh"); done
  line=$(chroot "$root" /usr/sbin/slurmd -C | head -1)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$line")
  local topo; topo=$(grep -oE '(Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+' <<<"$line" | tr '\n' ' ')
  cat >"$root/etc/slurm/slurm.conf" <<EOF
# generated by scripts/cluster2411.sh
ClusterName=e24
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$cport
SlurmdPort=$dport
AuthType=auth/slurm
CredType=cred/slurm
SlurmctldParameters=enable_configless
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurmctld.log
SlurmdLogFile=/var/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
NodeName=$NODE NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus ${topo}State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  # slurmctld and slurmd bind their ports on 127.0.0.1 (their addresses above) only.
  echo "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny" >>"$root/etc/slurm/slurm.conf"
  echo "CgroupPlugin=disabled" >"$root/etc/slurm/cgroup.conf"
  chroot "$root" /usr/sbin/slurmctld -i 2>"$ST/slurmctld.err" || { cat "$ST/slurmctld.err" >&2; tail -20 "$root/var/log/slurmctld.log" >&2 || true; die "slurmctld failed to start"; }
  chroot "$root" /usr/sbin/slurmd -N "$NODE" 2>"$ST/slurmd.err" || { cat "$ST/slurmd.err" >&2; tail -20 "$root/var/log/slurmd.log" >&2 || true; die "slurmd failed to start"; }
  cat >"$ST/env" <<EOF
E2E_SLURM_NODE=$NODE
E2E_SLURMCTLD_PORT=$cport
E2E_SLURMD_PORT=$dport
E2E_SLURM_KEY=$ST/slurm.key
EOF
  local i state=""
  for ((i = 0; i < 60; i++)); do
    state=$(chroot "$root" /usr/bin/sinfo -h -n "$NODE" -o '%t' 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.5
  done
  if [[ $state != idle ]]; then
    tail -15 "$root/var/log/slurmctld.log" >&2 || true; tail -15 "$root/var/log/slurmd.log" >&2 || true
    die "node $NODE not idle after 30 s (state: ${state:-none})"
  fi
  log "cluster e24 up: slurmctld 24.11 127.0.0.1:$cport (auth/slurm, configless), slurmd $NODE:$dport"
  chroot "$root" /usr/bin/sinfo
}

stop() {
  local root=$ST/root d
  [[ -d $root ]] || return 0
  for d in slurmd slurmctld; do
    [[ -s $root/run/$d.pid ]] || continue
    stop_pid "$(cat "$root/run/$d.pid")" "$d"
    rm -f "$root/run/$d.pid"
  done
  for d in "$root/sys" "$root/proc"; do
    mountpoint -q "$d" && { umount "$d" 2>/dev/null || umount -l "$d"; }
  done
  log "cluster in $ST stopped"
}

case $CMD in
  start) start ;;
  stop) ST=$(cd "$ST" 2>/dev/null && pwd) || exit 0; stop ;;
  *) usage ;;
esac
