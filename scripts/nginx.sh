#!/usr/bin/env bash
# nginx.sh — run Debian's nginx as a private AppHub mirror for the e2e suite.
#
# Usage: scripts/nginx.sh start DIR PORT [html|json] [STATEDIR]
#        scripts/nginx.sh stop STATEDIR
#        scripts/nginx.sh url STATEDIR            (prints http://127.0.0.1:PORT)
#   start: serves DIR on 127.0.0.1:PORT with autoindex on (autoindex_format json when asked),
#          config/pid/logs/temp dirs all under STATEDIR (default <repo>/build/e2e/nginx-PORT);
#          returns once the port answers (bounded ~5 s). Prints the base URL.
#          Symlinks in DIR are followed. Logs: STATEDIR/access.log, STATEDIR/error.log.
#   stop:  kills it via STATEDIR/nginx.pid and waits until it is gone.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)

usage() { echo "usage: $0 start DIR PORT [html|json] [STATEDIR] | stop STATEDIR | url STATEDIR" >&2; exit 2; }
[[ $# -ge 1 ]] || usage

start() {
  [[ $# -ge 2 ]] || usage
  local dir=$1 port=$2 fmt=${3:-html} st=${4:-}
  [[ -d $dir ]] || die "no such directory: $dir"
  [[ $port =~ ^[0-9]+$ ]] || die "bad port: $port"
  case $fmt in html|json) ;; *) die "format must be html or json, not $fmt" ;; esac
  [[ -x $NGINX ]] || die "nginx not installed (run scripts/deps.sh)"
  st=${st:-$E2E_BUILD_DEFAULT/nginx-$port}
  mkdir -p "$st/tmp"
  st=$(cd "$st" && pwd); dir=$(cd "$dir" && pwd)
  if [[ -s $st/nginx.pid ]] && alive "$(cat "$st/nginx.pid")"; then
    log "stopping the nginx already running from $st"
    stop "$st"
  fi
  local fmtline=""
  [[ $fmt == json ]] && fmtline="autoindex_format json;"
  cat >"$st/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon on;
pid $st/nginx.pid;
error_log $st/error.log info;
events { worker_connections 256; }
http {
  access_log $st/access.log;
  client_body_temp_path $st/tmp/body;
  proxy_temp_path $st/tmp/proxy;
  fastcgi_temp_path $st/tmp/fastcgi;
  uwsgi_temp_path $st/tmp/uwsgi;
  scgi_temp_path $st/tmp/scgi;
  types {
    text/html html;
    text/plain txt md sha256 minisig;
    application/json json;
    application/gzip gz tgz;
    application/x-xz xz;
    application/zstd zst;
    application/zip zip;
  }
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:$port;
    server_name localhost;
    root $dir;
    location / {
      autoindex on;
      $fmtline
    }
  }
}
CONF
  "$NGINX" -t -q -c "$st/nginx.conf" -p "$st" -e "$st/error.log" || die "nginx config test failed (see $st/error.log)"
  "$NGINX" -c "$st/nginx.conf" -p "$st" -e "$st/error.log" || die "nginx failed to start (see $st/error.log)"
  if ! wait_port 127.0.0.1 "$port" 5; then
    tail -5 "$st/error.log" >&2 || true
    die "nginx did not answer on 127.0.0.1:$port within 5 s"
  fi
  echo "$port" >"$st/port"
  log "nginx serving $dir on http://127.0.0.1:$port ($fmt autoindex; state $st)"
  echo "http://127.0.0.1:$port"
}

stop() {
  [[ $# -ge 1 ]] || usage
  local st=$1 pid
  [[ -s $st/nginx.pid ]] || { log "no nginx pid file in $st (not running)"; return 0; }
  pid=$(cat "$st/nginx.pid")
  stop_pid "$pid" nginx
  rm -f "$st/nginx.pid"
  log "nginx from $st stopped"
}

cmd=$1; shift
case $cmd in
  start) start "$@" ;;
  stop) stop "$@" ;;
  url) [[ $# -ge 1 ]] || usage; echo "http://127.0.0.1:$(cat "$1/port")" ;;
  *) usage ;;
esac
