#!/usr/bin/env bash
# Install the Debian packages mamori needs when they are missing:
# CJK fonts, pango and HarfBuzz subsetting for PDFs, poppler-utils for the PDF tests, PostgreSQL for the test suite,
# a C compiler for the ledger's native hashing.
# No pipefail: `grep` stops reading early on a match and the writer's SIGPIPE is not a failure.
set -eu

needed=()
ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
fc-list :lang=ja 2>/dev/null | grep 'Noto Sans CJK JP' >/dev/null || needed+=(fonts-noto-cjk)
fc-list :lang=ja 2>/dev/null | grep 'IPAexGothic' >/dev/null || needed+=(fonts-ipaexfont-gothic)
command -v pdftotext >/dev/null 2>&1 || needed+=(poppler-utils)
$ldconfig -p 2>/dev/null | grep libpangoft2 >/dev/null || needed+=(libpango-1.0-0 libpangoft2-1.0-0)
# WeasyPrint subsets fonts with HarfBuzz when present; fontTools is ~6x slower on Noto CJK.
$ldconfig -p 2>/dev/null | grep libharfbuzz-subset >/dev/null || needed+=(libharfbuzz-subset0)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || needed+=(postgresql)
# Browser tests: Playwright drives Debian's Chromium (`playwright install` cannot download here).
command -v chromium >/dev/null 2>&1 || needed+=(chromium)
# The ledger's native hashing is compiled when mamori is installed (hatch_build.py).
command -v gcc >/dev/null 2>&1 || needed+=(gcc libc6-dev)
[ -f /usr/share/GeoIP/GeoIP.dat ] && [ -f /usr/share/GeoIP/GeoIPv6.dat ] || needed+=(geoip-database)  # countries for detection rules

if [ ${#needed[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${needed[*]}"
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
