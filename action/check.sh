#!/usr/bin/env bash
# The GitHub Action's check step (action.yml), runnable anywhere: one check writes SARIF, annotations go to
# the log (GitHub turns them into pull-request annotations), the human report goes to the step summary,
# and the exit status to the step's outputs. Later runs reuse the first one's fact cache.
#
# Environment: SSOT_CHECK (the binary; default ssot-check on PATH), INPUT_PATHS, INPUT_BASELINE,
# INPUT_RULES, INPUT_SARIF, and GitHub's GITHUB_OUTPUT and GITHUB_STEP_SUMMARY (files).
set -uo pipefail
tool=${SSOT_CHECK:-ssot-check}
read -r -a paths <<<"${INPUT_PATHS:-.}"
options=()
if [[ -n "${INPUT_BASELINE:-}" ]]; then options+=(--baseline "$INPUT_BASELINE"); fi
if [[ -n "${INPUT_RULES:-}" ]]; then
  read -r -a rules <<<"$INPUT_RULES"
  for rule in "${rules[@]}"; do options+=(--rules "$rule"); done
fi
sarif=${INPUT_SARIF:-ssot-check.sarif}

"$tool" "${paths[@]}" "${options[@]}" --format sarif --output "$sarif"
status=$?
if [[ $status -ne 2 ]]; then
  "$tool" "${paths[@]}" "${options[@]}" --format github
fi
{
  echo "## ssot-check"
  echo
  if [[ $status -eq 2 ]]; then
    echo "ssot-check could not run (exit status 2): see the step's log."
  else
    echo '```'
    "$tool" "${paths[@]}" "${options[@]}" --color never
    echo '```'
  fi
} >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
echo "exit-code=$status" >>"${GITHUB_OUTPUT:-/dev/null}"
# The action fails in its own step, after the SARIF upload; run alone, the script fails here.
if [[ -z "${GITHUB_ACTIONS:-}" ]]; then exit "$status"; fi
