#!/bin/sh
# The DSO threshold x EV penetration study on the IEEE European LV feeder
# (docs/scale.md): for each EV share, `flexbed generate city` writes one
# feeder (55 households, that share of them with an EV whose session is a
# real one, 10 home batteries offered by their FSPs, a DSO with a threshold
# policy, a 100 kVA transformer thermal model); `flexbed sweep` runs it at
# each threshold (with the market-off counterfactual); the summaries are
# joined into study.csv, drawn as heat maps with gnuplot, and summarised in
# summary.txt in a planner's words.
#
# usage: scripts/study-threshold-ev.sh [OUTDIR]     (default results/study-threshold-ev)
# environment: FLEXBED (default ./build/flexbed), JOBS (default 2),
#              SHARES (default "0.2 0.4 0.6 0.8"), THRESHOLDS (default "60 70 80 90 100 110")
set -eu

FLEXBED=${FLEXBED:-./build/flexbed}
JOBS=${JOBS:-2}
SHARES=${SHARES:-"0.2 0.4 0.6 0.8"}
THRESHOLDS=${THRESHOLDS:-"60 70 80 90 100 110"}
OUT=${1:-results/study-threshold-ev}
KVA=100

if [ ! -x "$FLEXBED" ]; then
    echo "study: $FLEXBED not found; run make build first (or set FLEXBED)" >&2
    exit 2
fi
mkdir -p "$OUT"
OUTABS=$(cd "$OUT" && pwd)
values=$(echo "$THRESHOLDS" | tr ' ' ',')

: > "$OUT/study.csv.tmp"
for share in $SHARES; do
    "$FLEXBED" generate city --feeders 1 --ev-share "$share" --battery-share 0.182 \
        --transformer-kva $KVA --seed 1 --out "$OUT/feeder-ev-$share.json" > /dev/null
    cat > "$OUT/sweep-ev-$share.json" <<EOF
{
  "name": "ev-$share",
  "description": "One EU LV feeder with EVs on a share $share of its households (generated), at each DSO threshold.",
  "scenario": "$OUTABS/feeder-ev-$share.json",
  "parameters": [{"path": "components[name=dso_f001].threshold.limit_kw", "values": [$values]}],
  "outputs": [
    {"name": "peak_kw", "report": "dso.main.peak_kw"},
    {"name": "peak_kw_without", "report": "dso.counterfactual.peak_kw"},
    {"name": "minutes_above", "report": "dso.main.minutes_above"},
    {"name": "minutes_above_without", "report": "dso.counterfactual.minutes_above"},
    {"name": "loss_of_life_h", "report": "runs[0].signals[name=f001_tx.loss_of_life_h].max"},
    {"name": "loss_of_life_h_without", "report": "runs[1].signals[name=f001_tx.loss_of_life_h].max"},
    {"name": "bought_kwh", "report": "total.delivered_kwh"},
    {"name": "cost_eur", "report": "dso.cost_eur"}
  ]
}
EOF
    "$FLEXBED" sweep "$OUT/sweep-ev-$share.json" -j "$JOBS" --out "$OUT/ev-$share" > /dev/null
    # ev_share, then the summary's columns but the run number and status;
    # no purchase: nothing bought, nothing paid
    awk -F, -v s="$share" 'NR > 1 && $NF == "completed" {
        for (i = 2; i < NF; i++) if ($i == "") $i = 0;
        printf "%s", s; for (i = 2; i < NF; i++) printf ",%s", $i; printf "\n" }' \
        OFS=, "$OUT/ev-$share/summary.csv" >> "$OUT/study.csv.tmp"
done
{
    echo "ev_share,threshold_kw,peak_kw,peak_kw_without,minutes_above,minutes_above_without,loss_of_life_h,loss_of_life_h_without,bought_kwh,cost_eur"
    cat "$OUT/study.csv.tmp"
} > "$OUT/study.csv"
rm -f "$OUT/study.csv.tmp"

# Heat maps: threshold across, EV share up; a cell per run, half a step
# wide either way (the grids are evenly spaced).
dx=$(echo "$THRESHOLDS" | awk '{ print ($NF - $1) / (NF > 1 ? NF - 1 : 1) / 2 }')
dy=$(echo "$SHARES" | awk '{ print 100 * ($NF - $1) / (NF > 1 ? NF - 1 : 1) / 2 }')
plot() { # column title file
    gnuplot <<EOF
pngterm = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? 'pngcairo' : 'png'
set terminal @pngterm size 720,480
set output "$OUT/$3"
set datafile separator ","
set title "$2"
set xlabel "DSO threshold (kW)"
set ylabel "households with an EV (%)"
set palette rgbformulae 33,13,10
set key off
set offsets $dx, $dx, $dy, $dy
set style fill solid 1.0 noborder
plot "$OUT/study.csv" every ::1 using 2:(\$1*100):($dx):($dy):$1 with boxxyerror lc palette, \
     "" every ::1 using 2:(\$1*100):(sprintf("%.3g", \$$1)) with labels
EOF
}
plot 3 "peak of the substation power with the market (kW)" heat-peak.png
plot 5 "minutes above the threshold with the market" heat-minutes-above.png
plot 7 "transformer loss of life in the day, $KVA kVA (h)" heat-loss-of-life.png
plot 10 "flexibility bought in the day (EUR)" heat-cost.png

# A planner's summary: per EV share, the threshold that saves the most
# hours of transformer ageing per euro.
awk -F, -v kva=$KVA 'NR > 1 {
    saved = $8 - $7; cost = $10;
    printf "at %2.0f %% EV penetration, a threshold of %3d kW: peak %.1f kW (%.1f without the market), %d min above the threshold (%d without), %.2f h of ageing of a %d kVA transformer (%.2f without): saves %.2f h for EUR %.2f a day, EUR %.0f a year if every day were this winter weekday\n",
        $1 * 100, $2, $3, $4, $5, $6, $7, kva, $8, saved, cost, cost * 365 }' "$OUT/study.csv" \
    > "$OUT/summary.txt"
awk -F, 'NR > 1 && $10 > 0 { s = $1; r = ($8 - $7) / $10;
    if (!(s in best) || r > best[s]) { best[s] = r; line[s] = $0 } }
    END { for (s in line) { split(line[s], f, ",");
        printf "best value at %2.0f %% EVs: a %d kW threshold saves %.2f h of ageing for EUR %.2f a day (%.2f h per EUR)\n", s * 100, f[2], f[8] - f[7], f[10], best[s] } }' \
    "$OUT/study.csv" | sort >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
echo "study: $OUT/study.csv, heat-*.png, summary.txt"
