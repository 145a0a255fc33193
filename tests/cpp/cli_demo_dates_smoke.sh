#!/usr/bin/env bash
# The `attnkit demo dates` command end to end, briefly: a short training run
# that prints its report and writes labelled heatmap PNGs; --help lists the
# options; bad options are refused with a message instead of a crash.
#   cli_demo_dates_smoke.sh PATH_TO_ATTNKIT
set -euo pipefail
attnkit="$1"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

log="$out/log.txt"
"$attnkit" demo dates --steps 20 --eval-size 16 --examples 2 --d-model 32 --feedforward 64 \
  --out "$out/maps" --save-model "$out/model.safetensors" >"$log" 2>&1
grep -q "held-out exact match: [0-9]* / 16" "$log" || { cat "$log"; echo "FAIL: no exact-match report"; exit 1; }
grep -q "train \[#*\] 20/20" "$log" || { cat "$log"; echo "FAIL: no finished progress bar"; exit 1; }
for k in 01 02; do
  for layer in 1 2; do
    png="$out/maps/date_${k}_layer${layer}.png"
    [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { echo "FAIL: $png is not a PNG"; exit 1; }
  done
done
[ "$(head -c 8 "$out/model.safetensors" | wc -c)" = 8 ] || { echo "FAIL: no saved model"; exit 1; }

# The smallest run: one step of one date, two held-out dates.
"$attnkit" demo dates --steps 1 --batch-size 1 --eval-size 2 --examples 1 --d-model 16 --heads 2 \
  --feedforward 16 --out "$out/tiny" >"$log" 2>&1 || { cat "$log"; echo "FAIL: the smallest run failed"; exit 1; }
grep -q "held-out exact match: [0-9]* / 2" "$log" || { cat "$log"; echo "FAIL: no report from the smallest run"; exit 1; }

help="$("$attnkit" demo dates --help)"
for option in --steps --batch-size --lr --d-model --heads --eval-size --beam-size --examples --seed --out; do
  grep -q -- "$option" <<<"$help" || { echo "FAIL: --help does not explain $option"; exit 1; }
done

if "$attnkit" demo dates --steps 0 >"$log" 2>&1; then echo "FAIL: --steps 0 accepted"; exit 1; fi
grep -q -- "--steps" "$log" || { cat "$log"; echo "FAIL: --steps 0 not explained"; exit 1; }
if "$attnkit" demo dates --steps 1 --heads 3 --examples 0 --eval-size 1 >"$log" 2>&1; then
  echo "FAIL: 3 heads of a 128-wide model accepted"; exit 1
fi
grep -q "^attnkit: .*num_heads" "$log" || { cat "$log"; echo "FAIL: bad head count not explained"; exit 1; }
echo "ok"
