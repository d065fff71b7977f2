#!/usr/bin/env bash
# Install what the tests need beyond Python packages: Chromium + chromedriver (browser tests),
# the PostgreSQL server binaries (database tests start their own server from them) and
# Prometheus Alertmanager (notification tests start their own from it).
# As root, missing pieces are installed with apt-get; otherwise the exact fix is printed and
# the tests themselves fail with it (they are never skipped silently).
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if ! command -v prometheus-alertmanager >/dev/null 2>&1 && ! command -v alertmanager >/dev/null 2>&1; then
  missing+=(prometheus-alertmanager)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing test prerequisites: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "missing test prerequisites: ${missing[*]}" >&2
  echo "fix: sudo apt-get install -y ${missing[*]}" >&2
  echo "(the browser, PostgreSQL and Alertmanager tests will fail until then;" >&2
  echo " PIPEWATCH_SKIP_BROWSER=1 / PIPEWATCH_SKIP_POSTGRES=1 / PIPEWATCH_SKIP_ALERTMANAGER=1" >&2
  echo " skip them on purpose)" >&2
fi
