#!/bin/sh
# Replays the demo with its assets on emulated hardware: starts the Modbus
# battery and the OCPP charger emulators on loopback, runs
# scenarios/hil/demo-hil.json against them at the same speed-up, stops the
# emulators and prints the flexibility table. Usage:
#   scripts/hil-demo.sh [FLEXBED] [SPEED] [OUT_DB]
set -eu
cd "$(dirname "$0")/.."
FLEXBED=${1:-./build/flexbed}
SPEED=${2:-60}
OUT=${3:-results/demo-hil.db}
START=2023-10-02T15:50:00+03:00
mkdir -p "$(dirname "$OUT")"

"$FLEXBED" emulate battery --port 1502 --start "$START" --speed "$SPEED" --quiet \
    --capacity-kwh 30 --soc 0.6 --soc-min 0.2 --soc-max 0.95 --round-trip 0.92 \
    --p-charge-max-kw 10 --p-discharge-max-kw 10 --ramp-kw-per-s 0.5 --latency 35s &
BAT=$!
"$FLEXBED" emulate charger --url ws://127.0.0.1:8887/ocpp/CP1 --start "$START" \
    --speed "$SPEED" --quiet --capacity-kwh 40 --soc 0.7 --soc-target 0.5 --soc-min-discharge 0.3 \
    --p-charge-max-kw 11 --p-discharge-max-kw 10 --granularity amps --min-current-a 6 \
    --ramp-kw-per-s 0.5 --latency 33s --efficiency 0.93 --meter-interval 0.2s &
CHG=$!
trap 'kill $BAT $CHG 2>/dev/null || true' EXIT INT TERM

"$FLEXBED" run scenarios/hil/demo-hil.json --speed "$SPEED" --out "$OUT" --no-counterfactual
"$FLEXBED" report "$OUT" --brief
