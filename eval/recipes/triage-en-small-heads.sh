#!/usr/bin/env bash
# Builds models/triage-en-small 0.1.0: four linear heads fitted on the frozen
# all-MiniLM-L6-v2 encoder (triage train --head-only), on the permissively licensed
# training splits only; every calibration choice is made on the dev splits.
# Usage: eval/recipes/triage-en-small-heads.sh [OUT_DIR]   (from the repository root)
set -euo pipefail
out=${1:-models/triage-en-small}
base=${TRIAGE_SHARED:-../shared}/models/all-MiniLM-L6-v2
cargo build --release --quiet
triage=target/release/triage
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$triage train --head-only --base "$base" --data bitext_customer_support:train --head intent.support \
  --out "$work/1" --name triage-en-small --version 0.1.0 \
  --base-model sentence-transformers/all-MiniLM-L6-v2 --languages en
$triage train --head-only --base "$work/1" --data banking77:train --head intent.banking --out "$work/2"
$triage train --head-only --base "$work/2" --data clinc150:train --head intent.clinc --out "$work/3"
$triage train --head-only --base "$work/3" --data goemotions:train --head emotion --out "$work/4"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -r "$work/4" "$out"
echo "wrote $out"
