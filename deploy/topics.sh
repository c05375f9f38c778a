#!/usr/bin/env bash
# Creates meritflow's topics on any Kafka, with the names of a meritflow configuration:
#   input topics  retention 35 days (longer than the longest policy window, so results can be
#                 rebuilt from the log), scores/triggers compacted (latest row per key),
#                 rejects kept 30 days.
#
#   deploy/topics.sh [CONFIG] [PARTITIONS] [REPLICATION]
#     CONFIG       meritflow.toml ([kafka] brokers, topic names; TLS/SASL via [kafka.properties])
#                  default: deploy/meritflow.toml
#     PARTITIONS   per topic (default 8): the most workers that can share the input
#     REPLICATION  replicas per partition (default 1; use 3 on a production cluster)
#
# Topics that exist already are left as they are. Uses the meritflow binary on PATH, or builds
# this checkout's (MERITFLOW=path overrides).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
config="${1:-$here/meritflow.toml}"
partitions="${2:-8}"
replication="${3:-1}"
if [ -n "${MERITFLOW:-}" ]; then
  bin="$MERITFLOW"
elif command -v meritflow >/dev/null 2>&1; then
  bin=meritflow
else
  (cd "$here/.." && cargo build --release --quiet)
  bin="${CARGO_TARGET_DIR:-$here/../target}/release/meritflow"
fi
exec "$bin" topics --config "$config" --partitions "$partitions" --replication "$replication"
