#!/bin/sh
# Installs the browser test/sandbox/console.test.ts and scripts/console-screenshot.ts drive with playwright-core:
# Debian's chromium package (/usr/bin/chromium), not a Playwright download. Safe to run again: it does nothing
# when chromium is already on PATH. Installing needs root; as another user it prints the command to run.
set -eu

if command -v chromium >/dev/null 2>&1; then
  echo "chromium is installed: $(command -v chromium)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is not installed, and installing it needs root. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y chromium" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is not installed and this system has no apt-get: install a Chromium at /usr/bin/chromium." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium
echo "chromium installed: $(command -v chromium) ($(chromium --version 2>/dev/null || echo 'version unknown'))"
