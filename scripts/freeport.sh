#!/usr/bin/env bash
# freeport.sh — print a TCP port on 127.0.0.1 that nothing listens on right now.
# Usage: scripts/freeport.sh
set -euo pipefail
for _ in $(seq 1 200); do
  p=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    # also skip ports in use by listeners on other addresses
    if command -v ss >/dev/null && ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then continue; fi
    echo "$p"
    exit 0
  fi
done
echo "freeport.sh: no free port found" >&2
exit 1
