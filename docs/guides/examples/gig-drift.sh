#!/usr/bin/env bash
# One drift check of one stack and env, for a systemd timer or cron (see
# docs/guides/drift-cron.md). Writes the Prometheus metrics file, logs the drift in text,
# and, when GH_TOKEN and GIG_DRIFT_REPO are set, opens, updates or closes a GitHub issue.
#
# Exit codes are gig's: 0 no drift, 2 drift, 1 the check failed (the metrics file then
# keeps its previous content, so the staleness alert fires if failures go on).
set -euo pipefail

: "${GIG_STACK:?set GIG_STACK, e.g. stacks/giggatek}"
: "${GIG_ENV:?set GIG_ENV, e.g. production}"
: "${GIG_PROM_FILE:?set GIG_PROM_FILE, the .prom file in the textfile collector directory}"
GIG=${GIG:-gig}

code=0
"$GIG" drift "$GIG_STACK" --env "$GIG_ENV" --lock-timeout 15m \
  --format prometheus --out "$GIG_PROM_FILE" > /dev/null || code=$?

case "$code" in
  0)
    echo "gig drift: no drift in $GIG_STACK/$GIG_ENV"
    ;;
  2)
    echo "gig drift: DRIFT in $GIG_STACK/$GIG_ENV"
    # The details, for the journal or the log (a second, short check).
    "$GIG" drift "$GIG_STACK" --env "$GIG_ENV" --format text || true
    ;;
  *)
    echo "gig drift: the check FAILED (exit $code); $GIG_PROM_FILE was left as it was" >&2
    exit "$code"
    ;;
esac

# Optional: the same issue handling as the GitHub Actions workflow.
if [ -n "${GH_TOKEN:-}" ] && [ -n "${GIG_DRIFT_REPO:-}" ]; then
  label="drift: $(basename "$GIG_STACK")/$GIG_ENV"
  gh -R "$GIG_DRIFT_REPO" label create "$label" --color D93F0B \
    --description "gig drift found changes made outside gig" --force > /dev/null
  issue=$(gh -R "$GIG_DRIFT_REPO" issue list --label "$label" --state open --limit 1 \
    --json number --jq '.[0].number // empty')
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  if [ "$code" = 0 ]; then
    if [ -n "$issue" ]; then
      gh -R "$GIG_DRIFT_REPO" issue close "$issue" --comment "No drift at $now (checked on $(hostname)). Closing."
    fi
  else
    report=$(mktemp)
    body=$(mktemp)
    trap 'rm -f "$report" "$body"' EXIT
    rc=0
    "$GIG" drift "$GIG_STACK" --env "$GIG_ENV" --format markdown > "$report" || rc=$?
    if [ "$rc" = 2 ]; then
      {
        head -c 60000 "$report"
        if [ "$(wc -c < "$report")" -gt 60000 ]; then
          echo
          echo "_Report cut to fit an issue; run \`gig drift $GIG_STACK --env $GIG_ENV\` for all of it._"
        fi
        echo
        echo "Last checked $now on $(hostname). This issue closes itself when a check finds no drift."
      } > "$body"
      if [ -n "$issue" ]; then
        gh -R "$GIG_DRIFT_REPO" issue edit "$issue" --body-file "$body" > /dev/null
      else
        gh -R "$GIG_DRIFT_REPO" issue create --title "Drift in $(basename "$GIG_STACK")/$GIG_ENV" \
          --label "$label" --body-file "$body" > /dev/null
      fi
    fi
  fi
fi

exit "$code"
