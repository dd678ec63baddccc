#!/usr/bin/env bash
# Install the pages' front-end libraries (ECharts, htmx) and the API documentation's (Swagger UI at /docs, ReDoc
# at /redoc) from the npm registry, pinned by web-assets/package-lock.json, and copy the files the pages load
# into src/jicai/web/static/vendor/.
# The pages never load anything from a CDN. A second run with the files present does nothing.
# axe-core is a test asset: it stays in web-assets/node_modules, where the browser tests inject it into every
# page to look for accessibility violations (tests/test_web_browser_pages.py); the pages never serve it.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=src/jicai/web/static/vendor
files=(echarts/dist/echarts.min.js htmx.org/dist/htmx.min.js swagger-ui-dist/swagger-ui-bundle.js
       swagger-ui-dist/swagger-ui.css redoc/bundles/redoc.standalone.js)
stamp="$vendor/.lock-$(cat web-assets/package-lock.json "$0" | sha256sum | cut -c1-16)"  # the pins and this script
[ -f "$stamp" ] && exit 0
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "the web pages need npm to install ECharts, htmx, Swagger UI and ReDoc (apt-get install nodejs npm)" >&2
    exit 1
  fi
fi
(cd web-assets && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
mkdir -p "$vendor"
rm -f "$vendor"/.lock-*
for f in "${files[@]}"; do cp "web-assets/node_modules/$f" "$vendor/$(basename "$f")"; done
# ReDoc 2 draws its maker's logo in the side menu from the maker's CDN, the bundle's one reference to another site
# (the page's policy would block it, and say so in the console). Without a source the image fails and ReDoc
# hides it: /redoc loads nothing from elsewhere.
sed -i 's#"https://cdn.redoc.ly/redoc/logo-mini.svg"#""#' "$vendor/redoc.standalone.js"
touch "$stamp"
