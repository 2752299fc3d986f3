#!/usr/bin/env bash
# Makes a checkout runnable: node dependencies, then an etcd binary for the tests, the tour and
# the benchmarks. Used by `npm test` and `npm run tour` (with --tour).
#
#   bash scripts/bootstrap.sh [--tour]
#
# Dependencies are (re)installed when node_modules is missing or older than package-lock.json.
# etcd is not needed when ETCD_BIN names an executable, or, with --tour, when ETCD_ENDPOINTS
# points the tour at a running cluster. Otherwise a missing `etcd` is installed from Debian's
# `etcd-server` package when running as root with apt-get, and reported otherwise.
# Does nothing (in well under a second) when everything is present.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

tour=false
for arg in "$@"; do
  case "$arg" in
    --tour) tour=true ;;
    *) echo "bootstrap: unknown argument: $arg (usage: bootstrap.sh [--tour])" >&2; exit 2 ;;
  esac
done

say() { echo "bootstrap: $*" >&2; }

# --- node dependencies -------------------------------------------------------------------------

# npm writes node_modules/.package-lock.json on every install; our own stamp covers installs
# made by this script. Either being at least as new as package-lock.json means up to date.
stamp=node_modules/.etcdkit-bootstrap
deps_current() {
  [[ -d node_modules ]] || return 1
  [[ -f package-lock.json ]] || return 0
  local marker
  for marker in "$stamp" node_modules/.package-lock.json; do
    if [[ -f "$marker" && ! package-lock.json -nt "$marker" ]]; then return 0; fi
  done
  return 1
}

# npm >= 11.16 writes no lock entry for an optional dependency the registry does not have (such
# as @bufbuild/buf's binaries for platforms not published there), then `npm ci` rejects that
# same lock as out of sync: "Missing: <name>@ from lock file", with an empty version
# (npm/cli#9846). Only in that case, install the locked versions with `npm install`, and insist
# that it leaves package-lock.json as it was.
install_from_lock() {
  local out status=0
  out="$(mktemp "${TMPDIR:-/tmp}/etcdkit-npm.XXXXXX.log")"
  npm ci --no-audit --no-fund >"$out" 2>&1 || status=$?
  if [[ $status -eq 0 ]]; then
    cat "$out"
    rm -f "$out"
    return 0
  fi
  # Fall back only if every complaint is a missing entry with an empty version.
  if ! grep -Eq '^npm error Missing: (@[^/ ]+/)?[^@ ]+@ from lock file$' "$out" ||
    grep -Eq '^npm error (Missing: (@[^/ ]+/)?[^@ ]+@[^@ ]+ from lock file|Invalid: )' "$out"; then
    cat "$out" >&2
    rm -f "$out"
    say "npm ci failed (see above)"
    exit 1
  fi
  say "npm ci rejected package-lock.json only over optional packages the registry does not publish:"
  grep '^npm error Missing: ' "$out" | sed 's/^npm error /bootstrap:   /' >&2
  say "(npm/cli#9846); installing the locked versions with npm install instead"
  rm -f "$out"
  local backup
  backup="$(mktemp "${TMPDIR:-/tmp}/etcdkit-lock.XXXXXX.json")"
  cp package-lock.json "$backup"
  npm install --no-audit --no-fund
  if ! cmp -s package-lock.json "$backup"; then
    cp "$backup" package-lock.json
    rm -f "$backup"
    say "npm install had to change package-lock.json, so it does not match package.json; run 'npm install' and commit the lock file"
    exit 1
  fi
  rm -f "$backup"
}

if ! deps_current; then
  if [[ -f package-lock.json ]]; then
    say "installing node dependencies (npm ci)"
    install_from_lock
  else
    say "no package-lock.json; installing node dependencies (npm install)"
    npm install --no-audit --no-fund
  fi
  touch "$stamp"
fi

# --- etcd --------------------------------------------------------------------------------------

if [[ "$tour" == true && -n "${ETCD_ENDPOINTS:-}" ]]; then
  exit 0 # the tour talks to the given cluster
fi

if [[ -n "${ETCD_BIN:-}" ]]; then
  if [[ "$ETCD_BIN" == */* && -x "$ETCD_BIN" && ! -d "$ETCD_BIN" ]] || { [[ "$ETCD_BIN" != */* ]] && command -v "$ETCD_BIN" >/dev/null 2>&1; }; then
    exit 0
  fi
  say "ETCD_BIN is set to '$ETCD_BIN', which is not an executable file (nor a command on PATH)."
  say "Point ETCD_BIN at an etcd v3 binary, or unset it to use (or install) 'etcd' from PATH."
  exit 1
fi

if command -v etcd >/dev/null 2>&1; then
  exit 0
fi

cannot_install() {
  say "no 'etcd' binary on PATH: $1."
  say "etcdkit's tests run against a real etcd v3 server. Either:"
  say "  - install it: on Debian/Ubuntu, 'sudo apt-get install etcd-server' (provides /usr/bin/etcd);"
  say "  - or set ETCD_BIN to the path of an etcd binary (e.g. from https://github.com/etcd-io/etcd/releases);"
  if [[ "$tour" == true ]]; then
    say "  - or, for the tour only, set ETCD_ENDPOINTS=host:port[,host:port...] to use a running cluster."
  fi
  exit 1
}

if ! command -v apt-get >/dev/null 2>&1; then
  cannot_install "this system has no apt-get to install it with"
fi
if [[ "$(id -u)" -ne 0 ]]; then
  cannot_install "installing it needs root (this script runs as $(id -un))"
fi

log="$(mktemp "${TMPDIR:-/tmp}/etcdkit-apt.XXXXXX.log")"

# Keep the package from starting a system-wide etcd service: invoke-rc.d and deb-systemd-invoke
# ask policy-rc.d, and 101 means "do not start". Only a policy file we create is removed again.
policy=/usr/sbin/policy-rc.d
own_policy=false
cleanup() {
  if [[ "$own_policy" == true ]]; then rm -f "$policy"; fi
}
trap cleanup EXIT
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# written by etcdkit scripts/bootstrap.sh during apt-get install; removed afterwards\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=true
fi

say "installing etcd from Debian's etcd-server package, and etcdctl (etcd-client) for the interop tests (log: $log)"
if ! {
  apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends etcd-server etcd-client
} >"$log" 2>&1; then
  say "apt-get failed; the end of $log:"
  tail -n 25 "$log" >&2
  cannot_install "installing the etcd-server package failed"
fi
cleanup
own_policy=false

# Belt and braces, should a policy file have allowed a start: the tests never use a system etcd.
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl stop etcd.service >>"$log" 2>&1 || true
elif [[ -x /etc/init.d/etcd ]] && command -v service >/dev/null 2>&1; then
  service etcd stop >>"$log" 2>&1 || true
fi

if ! command -v etcd >/dev/null 2>&1; then
  cannot_install "the etcd-server package is installed, but its etcd is not on PATH ($PATH)"
fi
say "installed $(etcd --version 2>/dev/null | head -n 1) at $(command -v etcd)"
rm -f "$log"
