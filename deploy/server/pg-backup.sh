#!/bin/bash
# Nightly dump of the signage database, kept for KEEP_DAYS days.
# Installed as /usr/local/lib/signage-server/pg-backup.sh; run by signage-pgdump.service as
# user postgres. Settings come from the environment (libpq's PG* variables included):
#   PGDATABASE  database to dump (default signage)
#   BACKUP_DIR  where dumps go (default /var/backups/signage)
#   KEEP_DAYS   dumps younger than this many days are kept (default 14)
# A dump is written to a .partial file, flushed to disk, checked with pg_restore --list and
# only then renamed; old dumps are deleted only after a new one succeeded, so a failing
# backup never eats the good ones. Restore: pg_restore --clean --if-exists -d signage FILE
set -euo pipefail

db=${PGDATABASE:-signage}
dir=${BACKUP_DIR:-/var/backups/signage}
keep=${KEEP_DAYS:-14}

if ! [[ $keep =~ ^[0-9]+$ ]] || (( keep < 1 )); then
  echo "pg-backup: KEEP_DAYS must be a whole number of days, at least 1 (got '$keep')" >&2
  exit 2
fi

umask 077
mkdir -p "$dir"
final="$dir/$db-$(date -u +%Y%m%dT%H%M%SZ).dump"
partial="$final.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --no-password --file="$partial" "$db"
sync "$partial"
pg_restore --list "$partial" >/dev/null
mv "$partial" "$final"
sync "$dir"

# -mtime +N matches files at least N+1 whole days old: keep today and the KEEP_DAYS-1 days
# before it.
find "$dir" -maxdepth 1 -type f -name "$db-*.dump" -mtime +"$((keep - 1))" -print -delete |
  sed 's/^/pg-backup: deleted old dump /'
find "$dir" -maxdepth 1 -type f -name "$db-*.dump.partial" -mmin +1440 -delete

echo "pg-backup: wrote $final ($(du -h "$final" | cut -f1)), keeping $keep days"
