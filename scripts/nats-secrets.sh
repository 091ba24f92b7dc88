#!/usr/bin/env bash
# Writes .env (0600) with random passwords for compose.yaml's NATS cluster:
# the exportd service identity, the read-only subscriber and the cluster
# routes. An existing .env is kept: the cluster's stored passwords stay
# valid across restarts.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -e .env ]] && grep -q '^NATS_EXPORTD_PASSWORD=' .env; then
	echo ".env already holds the NATS passwords; remove it to make new ones" >&2
	exit 0
fi
pw() { head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='; }
umask 077
{
	echo "NATS_EXPORTD_PASSWORD=$(pw)"
	echo "NATS_SUBSCRIBER_PASSWORD=$(pw)"
	echo "NATS_ROUTE_PASSWORD=$(pw)"
} >> .env
echo "wrote .env: NATS_EXPORTD_PASSWORD, NATS_SUBSCRIBER_PASSWORD, NATS_ROUTE_PASSWORD" >&2
