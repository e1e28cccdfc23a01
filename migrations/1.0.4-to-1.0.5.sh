#!/usr/bin/env bash
# Migrates a fleetd v1.0.4 config (YAML or JSON) to v1.0.5.
#
#   migrations/1.0.4-to-1.0.5.sh OLD.yaml            # print the v1.0.5 config
#   migrations/1.0.4-to-1.0.5.sh OLD.yaml NEW.yaml   # write it (atomically; never over OLD unless NEW is OLD)
#   migrations/1.0.4-to-1.0.5.sh --check OLD.yaml    # exit 0 if already v1.0.5, 1 if it needs migrating
#
# A thin wrapper over `fleetd migrate-config`: every existing key is kept, `features` is added
# with every flag off, `routing` is built from `ai.model` (its list prices and limits; an
# unknown model gets a "# TODO: check prices" comment and a warning), `streaming` gets its defaults.
# Uses $FLEETD, else `fleetd` on PATH, else builds it from this checkout.
set -euo pipefail
usage() { echo "usage: $0 [--check] OLD.yaml [NEW.yaml]" >&2; exit 2; }
check=()
if [ "${1:-}" = "--check" ]; then check=(--check); shift; fi
[ $# -ge 1 ] && [ $# -le 2 ] || usage
fleetd="${FLEETD:-}"
if [ -z "$fleetd" ]; then
  if command -v fleetd >/dev/null 2>&1; then
    fleetd=fleetd
  else
    root="$(cd "$(dirname "$0")/.." && pwd)"
    (cd "$root" && swift build --product fleetd >&2)
    fleetd="$root/.build/debug/fleetd"
  fi
fi
if [ $# -eq 2 ]; then
  exec "$fleetd" migrate-config "${check[@]}" "$1" --output "$2"
else
  exec "$fleetd" migrate-config "${check[@]}" "$1"
fi
