#!/usr/bin/env bash
# Runs every test, after installing what they need on this machine:
# - aiosmtpd, the real SMTP server the server tests deliver mail to (PyPI);
# - Chromium and its WebDriver, for the browser test (Debian packages);
# - axe-core, the accessibility checker injected into each page (npm);
# - poppler-utils, which reads the PDFs the tests produce (Debian package).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore aiosmtpd==1.4.6
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v pdftotext >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver poppler-utils >/dev/null
fi
npm ci --prefix tests/browser --no-audit --no-fund --silent
cargo test --workspace
# The benchmarks in their short mode (criterion's test mode; 2,000
# candidatures for the admissions bench): they check, they do not time.
cargo test --workspace --bench '*'
