#!/usr/bin/env bash
# Sets up the engine and the image if needed, then runs every program in examples/ through the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[[ -f dist/cli.js ]] || npm run --silent build

for example in examples/*.py; do
  echo
  echo "=== docker-python-sandbox run $example --timeout 2000"
  status=0
  node dist/cli.js run "$example" --timeout 2000 || status=$?
  echo "--- exit code $status"
done

# The data flavour: numpy, pandas and matplotlib; the chart comes back through --collect.
echo
echo "=== docker-python-sandbox run examples/scientific/plot.py --image docker-python-sandbox:scientific --memory 256 --collect '*.png' --out demo-output"
status=0
node dist/cli.js run examples/scientific/plot.py --image docker-python-sandbox:scientific --memory 256 --collect '*.png' --out demo-output || status=$?
echo "--- exit code $status; $(ls demo-output 2>/dev/null | tr '\n' ' ')in demo-output/"
