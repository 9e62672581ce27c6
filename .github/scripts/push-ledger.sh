#!/usr/bin/env bash
# Push the ledger commit made by `reconciler apply --commit` or `reconciler status --commit`.
#
# Used by the apply and status workflows, which check out with `persist-credentials: false`:
# the token is never written to .git/config, so the steps that hold the Adobe secrets (and
# anything they run) cannot read it from disk. It reaches git here only, through a credential
# helper that reads LEDGER_PUSH_TOKEN from this step's environment: it is neither stored in a
# file nor put on a command line.
#
# If main moved since the checkout (a pull request merged while apply ran), the push is
# rejected: rebase the ledger commit onto the new main once and push again. Ledger files are
# one per request, and apply and status never run at the same time (one concurrency group),
# so the rebase does not conflict unless someone edited the same ledger file by hand; then
# this fails, the workflow run fails, and nothing is lost at Adobe: the next apply recovers
# the remote ids from the work orders' tags.
#
# Environment: LEDGER_PUSH_TOKEN (optional: without it git uses whatever credentials it has),
# LEDGER_REMOTE (default origin), LEDGER_BRANCH (default main).
set -euo pipefail

remote="${LEDGER_REMOTE:-origin}"
branch="${LEDGER_BRANCH:-main}"

# A rebase writes commits, so it needs a committer; use the ledger commits' bot identity.
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-reconciler-bot}"
export GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-reconciler-bot@users.noreply.github.com}"

git_auth() {
  if [ -n "${LEDGER_PUSH_TOKEN:-}" ]; then
    # The empty value first clears any helper configured elsewhere.
    # shellcheck disable=SC2016 # expanded by the helper's shell, not here
    git -c credential.helper= \
      -c 'credential.helper=!f() { test "$1" = get || exit 0; echo username=x-access-token; echo "password=${LEDGER_PUSH_TOKEN}"; }; f' \
      "$@"
  else
    git "$@"
  fi
}

git_auth fetch --quiet "$remote" "$branch"
if [ "$(git rev-list --count FETCH_HEAD..HEAD)" -eq 0 ]; then
  echo "Ledger unchanged: nothing to push."
  exit 0
fi

if git_auth push "$remote" "HEAD:$branch"; then
  exit 0
fi

echo "The push was rejected ($branch moved): rebasing the ledger commit onto it, once." >&2
git_auth pull --rebase --autostash "$remote" "$branch"
git_auth push "$remote" "HEAD:$branch"
