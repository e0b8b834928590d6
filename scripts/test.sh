#!/usr/bin/env bash
# `npm test`: setup, typecheck, lint, unit tests, then the integration project (the short chaos
# run included) against each supported runsc build by path: the current gVisor build first, then
# Debian's 2022 build. Both builds run even when the first fails; the exit status says if any did.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=runsc-builds.sh
source scripts/runsc-builds.sh

bash scripts/setup.sh
npm run -s typecheck
npm run -s lint
npx vitest run --project unit

failed=()
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
for build in "current=$runsc_current" "debian2022=$runsc_debian2022"; do
  label=${build%%=*} path=${build#*=}
  printf '[test] integration on %s: %s (%s)\n' "$label" "$path" "$("$path" --version | head -n 1)"
  start=$SECONDS
  if TEMPORAL_RUNSC_TEST_RUNTIME=$path TEMPORAL_RUNSC_TEST_LABEL=$label npx vitest run --project integration \
    --reporter=default --reporter=json --outputFile.json="$reports/$label.json"; then
    printf '[test] integration on %s passed in %d s\n' "$label" $((SECONDS - start))
  else
    printf '[test] integration on %s FAILED after %d s\n' "$label" $((SECONDS - start))
    failed+=("$label")
  fi
done
if ((${#failed[@]} > 0)); then
  for label in "${failed[@]}"; do node scripts/print-failures.mjs "$label" "$reports/$label.json"; done
  printf '[test] failed on: %s\n' "${failed[*]}"
  exit 1
fi
