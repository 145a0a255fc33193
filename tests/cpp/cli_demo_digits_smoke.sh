#!/usr/bin/env bash
# The `attnkit demo digits` command end to end, briefly: a few training steps
# of each of the three models on scikit-learn's digits (found through the
# given Python), the report, and the two PNGs; bad options are refused with a
# message instead of a crash.
#   cli_demo_digits_smoke.sh PATH_TO_ATTNKIT PATH_TO_PYTHON
set -euo pipefail
attnkit="$1"
python="$2"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
data="$("$python" -c "import os, sklearn; print(os.path.join(os.path.dirname(sklearn.__file__), 'datasets', 'data', 'digits.csv.gz'))")"

log="$out/log.txt"
"$attnkit" demo digits --data "$data" --steps 3 --batch-size 8 --test-size 40 --examples 3 --out "$out/maps" \
  >"$log" 2>&1 || { cat "$log"; echo "FAIL: the short run failed"; exit 1; }
for model in "plain CNN" "CNN + CBAM" "STN + CNN"; do
  grep -q "  $model  *[0-9.]*%" "$log" || { cat "$log"; echo "FAIL: no accuracy for $model"; exit 1; }
done
grep -q "main axis off the upright digit's" "$log" || { cat "$log"; echo "FAIL: no rectification report"; exit 1; }
for png in stn_rectified cbam_spatial_maps; do
  [ "$(head -c 8 "$out/maps/$png.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
    { echo "FAIL: $png.png is not a PNG"; exit 1; }
done

if "$attnkit" demo digits --data "$out/missing.csv.gz" --steps 1 >"$log" 2>&1; then echo "FAIL: a missing file accepted"; exit 1; fi
grep -q "^attnkit: .*cannot open" "$log" || { cat "$log"; echo "FAIL: a missing file not explained"; exit 1; }
printf '1,2,3\n' >"$out/bad.csv"
if "$attnkit" demo digits --data "$out/bad.csv" --steps 1 >"$log" 2>&1; then echo "FAIL: a bad file accepted"; exit 1; fi
grep -q "^attnkit: parse_digits_csv: line 1" "$log" || { cat "$log"; echo "FAIL: a bad file not explained"; exit 1; }
if "$attnkit" demo digits --data "$data" --size 30 >"$log" 2>&1; then echo "FAIL: --size 30 accepted"; exit 1; fi
grep -q "multiple of 8" "$log" || { cat "$log"; echo "FAIL: --size 30 not explained"; exit 1; }
echo "ok"
