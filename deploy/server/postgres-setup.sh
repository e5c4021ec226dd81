#!/bin/bash
# Create the signage role and database on a PostgreSQL server; running it again changes
# nothing (and a given --password-stdin is set again).
#
#   sudo deploy/server/postgres-setup.sh                      # role and Unix user `signage`
#   echo "$PW" | sudo deploy/server/postgres-setup.sh --password-stdin   # app on another host
#   deploy/server/postgres-setup.sh --admin-url postgresql://postgres@db:5432/postgres
#
# Without --admin-url, psql runs as the local `postgres` superuser (peer authentication).
# It prints the SIGNAGE_DATABASE_URL to put into /etc/signage-server/env.
set -euo pipefail

role=signage
database=signage
admin_url=
password=

usage() {
  sed -n '2,11s/^# \{0,1\}//p' "$0"
  echo "options: --role NAME (signage) --database NAME (signage) --password-stdin --admin-url URL"
}

while (( $# )); do
  case $1 in
    --role) role=${2:?--role needs a name}; shift 2 ;;
    --database) database=${2:?--database needs a name}; shift 2 ;;
    --admin-url) admin_url=${2:?--admin-url needs a URL}; shift 2 ;;
    --password-stdin) IFS= read -r password || true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "postgres-setup: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

for name in "$role" "$database"; do
  if ! [[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; then
    echo "postgres-setup: '$name' is not a plain lower-case PostgreSQL name" >&2
    exit 2
  fi
done

if [[ -n $admin_url ]]; then
  psql=(psql --no-psqlrc --quiet "$admin_url")
else
  psql=(runuser -u postgres -- psql --no-psqlrc --quiet)
fi

# The password travels in the environment (readable by root and the user only), never on a
# command line that `ps` would show; psql's \getenv reads it (psql 15, Debian 12).
SIGNAGE_DB_PASSWORD=$password "${psql[@]}" -v ON_ERROR_STOP=1 -v role="$role" \
  -v database="$database" <<'SQL'
\getenv password SIGNAGE_DB_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'password')
 WHERE :'password' <> '' \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'database',
              :'role', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'database') \gexec
SQL

echo "role $role and database $database are ready"
if [[ -n $password ]]; then
  echo "SIGNAGE_DATABASE_URL=postgresql+psycopg://$role:PASSWORD@DB-HOST/$database"
else
  echo "SIGNAGE_DATABASE_URL=postgresql+psycopg://$role@/$database?host=/run/postgresql"
  echo "(peer authentication: the app must run as the Unix user $role)"
fi
