#!/usr/bin/env bash
# Installs what berth needs on a Debian machine, idempotently: the system tools it drives and
# the npm dependencies. Run as root (CI is root); without root it only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(runc conmon busybox-static iproute2 iptables tini catatonit util-linux tar procps mmdebstrap docker-registry skopeo apache2-utils openssl docker-compose)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.berth-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
