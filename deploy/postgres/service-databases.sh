#!/usr/bin/env bash
# Gives each service its own role and database on one PostgreSQL server: the role (LOGIN,
# nothing more) owns the database and whatever is already in its public schema, and no
# other role but a superuser may connect to it. Idempotent: a second run sets the passwords
# again and changes nothing else.
#
#   service-databases.sh [DATABASE=ROLE...]   (default: $SERVICE_DATABASES, space-separated)
#
# A role's password comes from POSTGRES_<NAME>_PASSWORD, NAME being the role without its
# `_service` suffix or ROLE_PREFIX (auth_service: POSTGRES_AUTH_PASSWORD). The server is
# reached as psql reaches it (PGHOST, PGPORT, PGUSER, PGPASSWORD), as a superuser. It is
# the compose servers' init script (docker-entrypoint-initdb.d) and scripts/provision's.
# ROLE_PREFIX names a stack's roles apart (FD_STORE_PREFIX); LOCK_POSTGRES_DATABASE=true also
# takes CONNECT on the `postgres` database from PUBLIC (compose's servers are the stack's own).
set -euo pipefail

die() { printf 'service-databases: error: %s\n' "$*" >&2; exit 1; }

pairs=("$@")
[ ${#pairs[@]} -gt 0 ] || read -r -a pairs <<<"${SERVICE_DATABASES:-}"
[ ${#pairs[@]} -gt 0 ] || die "no DATABASE=ROLE given, and SERVICE_DATABASES is empty"
prefix="${ROLE_PREFIX:-}"

sql() {
  psql -X -q -A -t -v ON_ERROR_STOP=1 --username "${PGUSER:-${POSTGRES_USER:-postgres}}" "$@"
}

for pair in "${pairs[@]}"; do
  database=${pair%%=*} role=${pair#*=}
  [[ $pair == *=* && $database =~ ^[a-z0-9_]+$ && $role =~ ^[a-z0-9_]+$ ]] \
    || die "'$pair' is not DATABASE=ROLE (lower-case letters, digits and '_')"
  name=${role#"$prefix"}
  variable="POSTGRES_${name%_service}_PASSWORD"
  variable=${variable^^}
  [ -n "${!variable:-}" ] || die "$variable is not set (the password of the role $role)"
  export SERVICE_ROLE_PASSWORD="${!variable}"

  # The password is read from the environment, never put on a command line.
  sql --dbname postgres -v role="$role" -v database="$database" <<'SQL' || die "could not set up the role $role and the database $database"
\getenv password SERVICE_ROLE_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
ALTER DATABASE :"database" OWNER TO :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL

  # What a superuser migrated before the role existed becomes the role's, so that its own
  # migrations go on from there.
  sql --dbname "$database" -v role="$role" <<'SQL' || die "could not give $role what is in the database $database"
ALTER SCHEMA public OWNER TO :"role";
SELECT format('ALTER %s public.%I OWNER TO %I',
              CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
              c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
    AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER SEQUENCE public.%I OWNER TO %I', c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind = 'S'
    AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :'role') \gexec
SQL
  printf 'service-databases: %s owns %s\n' "$role" "$database"
done
unset SERVICE_ROLE_PASSWORD

if [ "${LOCK_POSTGRES_DATABASE:-false}" = true ]; then
  sql --dbname postgres -c 'REVOKE CONNECT ON DATABASE postgres FROM PUBLIC' \
    || die "could not take CONNECT on the postgres database from PUBLIC"
fi
