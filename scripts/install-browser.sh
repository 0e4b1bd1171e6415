#!/usr/bin/env bash
# What the dashboard's browser tests need, installed only when missing: Debian's Chromium, Node.js
# and npm, and dashboards/node_modules from the committed lock file (playwright-core, vite,
# chart.js). A second run costs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
[ ${#need[@]} -eq 0 ] || bash scripts/apt-install.sh "${need[@]}"
# npm ci again only when the lock file changed since the last install.
stamp=dashboards/node_modules/.blendlab-lock.sha256
want=$(sha256sum dashboards/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing dashboards/node_modules (npm ci)"
  (cd dashboards && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
