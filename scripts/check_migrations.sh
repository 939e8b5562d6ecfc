#!/usr/bin/env bash
# Upgrade a scratch database to heads, compare models with migrations
# (alembic check), go down to base and up again.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
admin_url=${ORDERLY_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
db="orderly_migrations_check_$$"
psql "$admin_url" -q -c "CREATE DATABASE $db"
trap 'psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
url="${admin_url%/*}/$db"
export ORDERLY_DATABASE_URL="$url" ORDERLY_LOG_LEVEL=WARNING
$UV run orderly migrate
$UV run orderly check-migrations
$UV run orderly migrate --down --revision base
$UV run orderly migrate
$UV run orderly check-migrations
