#!/usr/bin/env bash
# binsize.sh — what each dependency adds to the shipped binary (issue 25), as TSV on stdout:
#   module-or-group <TAB> bytes of its symbols (code + read-only data + data)
# The binary is built as `make build` builds it but without -s -w (the symbol table is what tells
# whose code a byte is); `go tool nm -size` gives each symbol's size, a symbol's package is the part
# of its name before the first dot after the last slash, and packages are summed per module (third
# party), per package (this project) or per top-level directory (the standard library, "std:net").
# Symbol bytes are ~60 % of the stripped file: the rest (pclntab, type and GC metadata) grows with
# the code, roughly in proportion. Lines "# file=N" and "# symbols=N" give both totals.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -tags urfave_cli_no_docs -o "$tmp/full" .
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -tags urfave_cli_no_docs -ldflags '-s -w' -o "$tmp/stripped" .
echo "# file=$(stat -c %s "$tmp/stripped")"
go tool nm -size "$tmp/full" | awk '
  # text, read-only data, data; not BSS (drbg.memory is a 32 MiB zeroed buffer: no file bytes)
  $3 ~ /^[TtRrDd]$/ && $4 != "crypto/internal/fips140/drbg.memory" {
    n = $4
    sub(/^type:\.?(eq\.)?/, "", n); sub(/^go:(itab\.)?\*?/, "", n); sub(/^\*/, "", n); sub(/^\[\]/, "", n)
    sub(/[,\[].*/, "", n) # an itab or a generic instantiation: its first type names the package
    if (match(n, /.*\//)) { pre = substr(n, 1, RLENGTH); rest = substr(n, RLENGTH + 1) } else { pre = ""; rest = n }
    d = index(rest, "."); if (d) rest = substr(rest, 1, d - 1)
    pkg = pre rest
    if (pkg ~ /^(github\.com|golang\.org|go\.uber\.org|oras\.land|gopkg\.in)\//) { split(pkg, a, "/"); m = a[1] "/" a[2] "/" a[3] }
    else if (pkg ~ /^aead\.dev\//) m = "aead.dev/minisign"
    else if (pkg ~ /^slurm-installer/) m = pkg
    else if (pkg ~ /^vendor\//) m = "std:vendor (x/net, x/crypto in std)"
    else if (pkg == "go:func" || pkg == "func") m = "runtime: function metadata"
    else { split(pkg, a, "/"); m = "std:" a[1] }
    t[m] += $2; tot += $2
  }
  END { printf "# symbols=%d\n", tot; for (k in t) printf "%s\t%d\n", k, t[k] }' | sort -t$'\t' -k2,2nr
