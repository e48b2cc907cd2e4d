#!/usr/bin/env bash
# pg_ctl for the tests' throwaway PostgreSQL server (pytest-postgresql runs it).
# PostgreSQL refuses to run as root, and CI runs as root: as root, this runs pg_ctl as the
# Debian package's 'postgres' user, after handing it the data directory's parent and the log
# file's folder and making their ancestors traversable. Otherwise it runs pg_ctl as it is.
set -euo pipefail
BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
if [ -z "$BIN" ] || [ ! -x "$BIN/pg_ctl" ]; then
    echo "pg_ctl.sh: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin" \
         "(Debian: apt-get install postgresql)" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    exec "$BIN/pg_ctl" "$@"
fi
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        -D | -l | --pgdata | --log) path="${args[$((i + 1))]:-}" ;;
        --pgdata=* | --log=*) path="${args[$i]#*=}" ;;
        *) continue ;;
    esac
    parent="$(dirname "$path")"
    mkdir -p "$parent"
    chown postgres "$parent"
    if [ -e "$path" ]; then chown -R postgres "$path"; fi
    a="$parent"
    while [ "$a" != "/" ]; do
        chmod o+x "$a" 2>/dev/null || true
        a="$(dirname "$a")"
    done
done
exec runuser -u postgres -- "$BIN/pg_ctl" "$@"
