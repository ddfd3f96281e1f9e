#!/bin/sh
# Creates or updates each service's RabbitMQ user as deploy/rabbitmq/permissions says, with
# its password from RABBITMQ_<NAME>_PASSWORD (auth-service: RABBITMQ_AUTH_PASSWORD, gateway:
# RABBITMQ_GATEWAY_PASSWORD), through rabbitmqctl. Idempotent. Settings:
#   RABBITMQ_VHOST        the vhost (default /)
#   AMQP_PREFIX           the stack's prefix of exchange and queue names (default none)
#   RABBITMQ_USER_PREFIX  put before each user's name (default none)
set -eu

PERMISSIONS="${RABBITMQ_PERMISSIONS:-$(dirname "$0")/permissions}"
VHOST="${RABBITMQ_VHOST:-/}"
PREFIX="${AMQP_PREFIX:-}"
USERS="${RABBITMQ_USER_PREFIX:-}"

die() { printf 'rabbitmq-users: error: %s\n' "$*" >&2; exit 1; }

[ -r "$PERMISSIONS" ] || die "cannot read $PERMISSIONS"
case "$PREFIX" in *[!a-z0-9_.-]*) die "AMQP_PREFIX may hold lower-case letters, digits, '_', '.' and '-' only" ;; esac
escaped=$(printf '%s' "$PREFIX" | sed 's/[.]/\\./g')

# rabbitmqctl reads its standard input: never the permissions file this loop reads.
ctl() { rabbitmqctl -q "$@" </dev/null >/dev/null; }

password_of() {
  variable="RABBITMQ_$(printf '%s' "${1%-service}" | tr 'a-z-' 'A-Z_')_PASSWORD"
  password=$(printenv "$variable" || true)
  [ -n "$password" ] || die "$variable is not set (the password of RabbitMQ's user $1)"
  printf '%s' "$password"
}

# The password goes on standard input, not on a command line others can read.
ensure_user() {
  password=$(password_of "$1")
  if ! out=$(printf '%s\n' "$password" | rabbitmqctl -q add_user "$USERS$1" 2>&1); then
    case "$out" in
      *already*exist*) printf '%s\n' "$password" | rabbitmqctl -q change_password "$USERS$1" >/dev/null || die "could not set the password of $USERS$1" ;;
      *) die "could not add the user $USERS$1: $out" ;;
    esac
  fi
}

while read -r kind user first second third rest; do
  case "$kind" in ''|'#'*) continue ;; esac
  [ -z "$rest" ] || die "$PERMISSIONS: too many fields on the line of $kind $user"
  case "$kind" in
    permit)
      ensure_user "$user"
      ctl set_permissions -p "$VHOST" "$USERS$user" \
        "$(printf '%s' "$first" | sed "s/{p}/$escaped/g")" \
        "$(printf '%s' "$second" | sed "s/{p}/$escaped/g")" \
        "$(printf '%s' "$third" | sed "s/{p}/$escaped/g")" \
        || die "could not set the permissions of $USERS$user on $VHOST" ;;
    topic)
      ctl set_topic_permissions -p "$VHOST" "$USERS$user" "$PREFIX$first" "$second" "$third" \
        || die "could not set the topic permissions of $USERS$user on $PREFIX$first" ;;
    *) die "$PERMISSIONS: \`$kind\` is neither permit nor topic" ;;
  esac
done <"$PERMISSIONS"
