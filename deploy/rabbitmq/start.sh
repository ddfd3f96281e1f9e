#!/bin/sh
# The compose broker: starts RabbitMQ as the image does, then sets the services' users from
# deploy/rabbitmq/permissions (users.sh) and deletes `guest`, at every start, so that a
# password changed in .env takes effect with a restart. The health check waits for the
# mark this leaves.
set -eu

READY=/tmp/food-delivery-users-set
rm -f "$READY"
docker-entrypoint.sh rabbitmq-server &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server"; exit' TERM INT

until rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { echo "rabbitmq-users: error: the broker exited while starting" >&2; exit 1; }
  sleep 1
done
sh "$(dirname "$0")/users.sh"
rabbitmqctl -q delete_user guest >/dev/null 2>&1 || true
touch "$READY"
echo "rabbitmq-users: the services' users are set"
wait "$server"
