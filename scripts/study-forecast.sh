#!/bin/sh
# The DSO policy study of issue 14 (docs/market.md, "A DSO that forecasts"):
# the same two weeks of the demo's 250 kVA transformer with ten evening EVs
# and four V2G cars offering every evening, under a DSO that reacts to the
# measured load (threshold) and under one that forecasts it (seasonal EWMA,
# day-ahead and intraday). Each policy runs as a Monte Carlo sweep over
# SEEDS seeds (the EVs' arrivals and SoCs drawn anew), each run with its
# market-off counterfactual; comparison.csv holds the means and 95 %
# confidence intervals of the cost, the minutes and energy above the DSO's
# 240 kW limit, the peak and the transformer's loss of life, with and
# without the market; study.png draws them; summary.txt says it in words.
#
# usage: scripts/study-forecast.sh [OUTDIR]     (default results/study-forecast)
# environment: FLEXBED (default ./build/flexbed), JOBS (default 2), SEEDS (default 5)
set -eu

FLEXBED=${FLEXBED:-./build/flexbed}
JOBS=${JOBS:-2}
SEEDS=${SEEDS:-5}
OUT=${1:-results/study-forecast}
HERE=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x "$FLEXBED" ]; then
    echo "study: $FLEXBED not found; run make build first (or set FLEXBED)" >&2
    exit 2
fi
case $SEEDS in
'' | *[!0-9]*) echo "study: SEEDS must be a whole number, got \"$SEEDS\"" >&2; exit 2 ;;
esac
if [ "$SEEDS" -lt 2 ]; then
    echo "study: SEEDS must be at least 2 (a confidence interval needs two runs), got $SEEDS" >&2
    exit 2
fi
mkdir -p "$OUT"

OUTPUTS='[
    {"name": "cost_eur", "report": "dso.cost_eur"},
    {"name": "bought_kwh", "report": "total.delivered_kwh"},
    {"name": "minutes_above", "report": "dso.main.minutes_above"},
    {"name": "minutes_above_without", "report": "dso.counterfactual.minutes_above"},
    {"name": "kwh_above", "report": "dso.main.kwh_above"},
    {"name": "kwh_above_without", "report": "dso.counterfactual.kwh_above"},
    {"name": "peak_kw", "report": "dso.main.peak_kw"},
    {"name": "peak_kw_without", "report": "dso.counterfactual.peak_kw"},
    {"name": "loss_of_life_h", "report": "runs[0].signals[name=transformer.loss_of_life_h].max"},
    {"name": "loss_of_life_h_without", "report": "runs[1].signals[name=transformer.loss_of_life_h].max"}
  ]'

: > "$OUT/comparison.csv.tmp"
for policy in threshold forecast; do
    cat > "$OUT/sweep-$policy.json" <<EOF
{
  "name": "study-forecast-$policy",
  "description": "The $policy DSO policy over $SEEDS seeds of EV arrivals (scripts/study-forecast.sh).",
  "scenario": "$HERE/scenarios/studies/forecast-vs-threshold-$policy.json",
  "monte_carlo": {"seeds": $SEEDS, "confidence": 0.95},
  "outputs": $OUTPUTS
}
EOF
    "$FLEXBED" sweep "$OUT/sweep-$policy.json" -j "$JOBS" --out "$OUT/$policy" > /dev/null
    if ! awk -F, 'NR > 1 && $NF != "completed" { bad = 1 } END { exit bad }' \
        "$OUT/$policy/summary.csv"; then
        echo "study: a $policy run did not complete (see $OUT/$policy/summary.csv)" >&2
        exit 1
    fi
    # the policy, then summary-ci.csv's row (runs, then mean, sd, ci_low,
    # ci_high of each output); no purchase leaves the cost empty: 0
    awk -F, -v p="$policy" 'NR == 2 { printf "%s", p;
        for (i = 1; i <= NF; i++) printf ",%s", ($i == "" ? 0 : $i); printf "\n" }' \
        "$OUT/$policy/summary-ci.csv" >> "$OUT/comparison.csv.tmp"
done
{
    printf "policy,"
    head -n 1 "$OUT/threshold/summary-ci.csv"
    cat "$OUT/comparison.csv.tmp"
} > "$OUT/comparison.csv"
rm -f "$OUT/comparison.csv.tmp"

# Columns of comparison.csv: 1 policy, 2 runs, then per output mean, sd,
# ci_low, ci_high in the order of OUTPUTS: cost 3, bought 7, minutes above
# 11 (without 15), kWh above 19 (23), peak 27 (31), loss of life 35 (39).
gnuplot <<EOF
pngterm = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? 'pngcairo' : 'png'
set terminal @pngterm size 1080,360
set output "$OUT/study.png"
set datafile separator ","
set multiplot layout 1,3 title "DSO policies over two weeks, $SEEDS seeds (mean, 95 % CI; grey: without the market)"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set key off
set yrange [0:*]
set title "minutes above 240 kW"
plot "$OUT/comparison.csv" every ::1 using 15:17:18:xtic(1) lc rgb "#bbbbbb", "" every ::1 using 11:13:14 lc rgb "#0b6bcb"
set title "transformer loss of life (h)"
plot "$OUT/comparison.csv" every ::1 using 39:41:42:xtic(1) lc rgb "#bbbbbb", "" every ::1 using 35:37:38 lc rgb "#d9480f"
set title "flexibility bought (EUR)"
plot "$OUT/comparison.csv" every ::1 using 3:5:6:xtic(1) lc rgb "#2b8a3e"
unset multiplot
EOF

awk -F, -v seeds="$SEEDS" 'NR > 1 {
    printf "%s: EUR %.2f for %.1f kWh bought (95 %% CI EUR %.2f to %.2f); %.0f min above 240 kW (%.0f without the market), %.2f kWh above it (%.2f without); peak %.1f kW (%.1f without); transformer loss of life %.3f h (%.3f without), mean of %d runs\n",
        $1, $3, $7, $5, $6, $11, $15, $19, $23, $27, $31, $35, $39, seeds }' \
    "$OUT/comparison.csv" > "$OUT/summary.txt"
awk -F, 'NR > 1 { c[$1] = $3; m[$1] = $15 - $11; l[$1] = $39 - $35 }
    END { for (p in c) if (c[p] > 0)
        printf "%s: %.1f min above the limit avoided and %.3f h of ageing saved per EUR 1: EUR %.2f per minute avoided\n",
            p, m[p] / c[p], l[p] / c[p], (m[p] > 0 ? c[p] / m[p] : 0) }' \
    "$OUT/comparison.csv" | sort >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
echo "study: $OUT/comparison.csv, study.png, summary.txt"
