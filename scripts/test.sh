#!/usr/bin/env bash
# The test command: build everything (the plugins too), then run the suite in release mode,
# where the numeric code runs at full speed, the end-to-end checks and a minute of fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enable-testing
swift test -c release -Xswiftc -enable-testing
bash scripts/ci_e2e.sh
bash scripts/fuzz.sh
