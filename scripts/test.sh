#!/usr/bin/env bash
# Runs every test, after installing what they need on this machine:
# aiosmtpd, the real SMTP server the server tests deliver mail to.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore aiosmtpd==1.4.6
cargo test --workspace
