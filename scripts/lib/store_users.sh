# The passwords of the stores' users for the native stack, and the users themselves on the
# machine's stores; sourced by scripts/provision and scripts/dev. A password is taken from
# the environment, else from .env, else from .env.example (the public development values).
# The users are those of compose: deploy/redis/users.acl, deploy/rabbitmq/permissions and
# the roles of deploy/postgres/service-databases.sh, their names after FD_STORE_PREFIX.

STORES_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

store_password() {
  local variable=$1 file value
  if [ -n "${!variable:-}" ]; then printf '%s' "${!variable}"; return 0; fi
  for file in "$STORES_ROOT/.env" "$STORES_ROOT/.env.example"; do
    [ -f "$file" ] || continue
    value=$(sed -n "s/^$variable=//p" "$file" | tail -n 1)
    value=${value%\"}; value=${value#\"}
    if [ -n "$value" ]; then printf '%s' "$value"; return 0; fi
  done
  printf '%s: error: no password for %s in the environment, .env or .env.example\n' "${NAME:-stores}" "$variable" >&2
  return 1
}

# Exports every store password .env.example lists, for the scripts under deploy/.
export_store_passwords() {
  local variable
  for variable in $(sed -n 's/^\(\(POSTGRES\|REDIS\|RABBITMQ\)_[A-Z]*_PASSWORD\)=.*/\1/p' "$STORES_ROOT/.env.example"); do
    export "$variable=$(store_password "$variable")"
  done
}

# service_databases PORT DATABASE=ROLE...: each role owning its database on the server at PORT.
service_databases() {
  local port=$1; shift
  PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres ROLE_PREFIX="${FD_STORE_PREFIX:-}" \
    "$STORES_ROOT/deploy/postgres/service-databases.sh" "$@" >/dev/null
}

# Redis's users (not `default`: the machine's Redis is its own) set on the Redis at PORT,
# for this run only: the server forgets them at its next start, and provisioning sets them again.
redis_users() {
  local port=$1 prefix="${FD_STORE_PREFIX:-}" keyword name rules variable words
  while read -r keyword name rules; do
    case "$keyword" in user) ;; *) continue ;; esac
    [ "$name" != default ] || continue
    variable="REDIS_${name^^}_PASSWORD"
    # Words, not globs: the key patterns hold `*`.
    read -r -a words <<<"$(printf '%s' "$rules" | sed "s/\(^\| \)\(%R\)\?\([~&]\)/\1\2\3$prefix/g")"
    redis-cli -h 127.0.0.1 -p "$port" ACL SETUSER "$prefix$name" reset ">$(store_password "$variable")" \
      "${words[@]}" | grep -qx OK \
      || { printf '%s: error: Redis refused the user %s\n' "${NAME:-stores}" "$prefix$name" >&2; return 1; }
  done <"$STORES_ROOT/deploy/redis/users.acl"
}

# RabbitMQ's users on the machine's broker, in vhost /.
rabbitmq_users() {
  AMQP_PREFIX="${FD_STORE_PREFIX:-}" RABBITMQ_USER_PREFIX="${FD_STORE_PREFIX:-}" \
    sh "$STORES_ROOT/deploy/rabbitmq/users.sh"
}
