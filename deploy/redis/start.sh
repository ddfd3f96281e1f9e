#!/bin/sh
# Starts redis-server with deploy/redis/users.acl, each user given its password from
# REDIS_<USER>_PASSWORD (REDIS_GATEWAY_PASSWORD...): the passwords stay out of the file in
# git. The ACL file is written to REDIS_ACL_FILE (default /tmp/users.acl, outside the data
# volume); further arguments go to redis-server.
set -eu

RULES="${REDIS_ACL_RULES:-$(dirname "$0")/users.acl}"
OUT="${REDIS_ACL_FILE:-/tmp/users.acl}"

die() { printf 'redis-users: error: %s\n' "$*" >&2; exit 1; }

[ -r "$RULES" ] || die "cannot read the ACL rules $RULES"
umask 077
: >"$OUT.new"
while read -r keyword name rules; do
  case "$keyword" in ''|'#'*) continue ;; esac
  [ "$keyword" = user ] || die "$RULES: a line that is not \`user NAME RULES\`: $keyword $name"
  if [ "$name" = default ]; then
    printf 'user %s %s\n' "$name" "$rules" >>"$OUT.new"
    continue
  fi
  variable="REDIS_$(printf '%s' "$name" | tr 'a-z-' 'A-Z_')_PASSWORD"
  password=$(printenv "$variable" || true)
  [ -n "$password" ] || die "$variable is not set (the password of Redis's user $name)"
  case "$password" in *[!A-Za-z0-9._~-]*) die "$variable may hold letters, digits, '-', '_', '.' and '~' only" ;; esac
  printf 'user %s >%s %s\n' "$name" "$password" "$rules" >>"$OUT.new"
done <"$RULES"
mv "$OUT.new" "$OUT"
exec redis-server --aclfile "$OUT" "$@"
