#!/usr/bin/env bash
# Create .venv and install jicai, pinned by constraints.txt: `setup.sh` the core the demo and a bureau need,
# `setup.sh test` also PySpark and the test tools (`make test`; ~1 GB more, mostly PySpark and Playwright).
set -euo pipefail
EXTRAS=""
[ "${1:-}" = test ] && EXTRAS="[spark,test]"
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "jicai needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q -c constraints.txt -e ".$EXTRAS" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import jicai, ibis, duckdb" # fail here, not in the first test, when the install broke

# PDF reports (jicai report … --format pdf): WeasyPrint needs Debian's pango and HarfBuzz's subsetter
# (without it fonts are subset by fontTools, minutes for a CJK font), and Chinese text needs a CJK font.
# Installed only when missing, so a second run does nothing; xlsx and html reports need none of it.
pdf_missing=()
libs=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
grep -q 'libpangoft2-1.0.so.0' <<<"$libs" || pdf_missing+=(libpango-1.0-0 libpangoft2-1.0-0)
grep -q 'libharfbuzz-subset.so.0' <<<"$libs" || pdf_missing+=(libharfbuzz-subset0)
[ -n "$(fc-list :lang=zh family 2>/dev/null)" ] || pdf_missing+=(fontconfig fonts-noto-cjk)
if [ ${#pdf_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pdf_missing[@]}" >/dev/null
  else
    echo "PDF reports need Debian packages ${pdf_missing[*]} (apt-get install as root); xlsx/html work without" >&2
  fi
fi

# The pages' front-end libraries (ECharts, htmx, and Swagger UI and ReDoc for /docs) from the npm registry, served locally.
bash scripts/web_assets.sh
