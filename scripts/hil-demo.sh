#!/bin/sh
# Replays the demo with its assets on emulated hardware: starts the Modbus
# battery and the OCPP charger emulators on loopback (on free ports, so a
# port in use elsewhere does not matter), runs scenarios/hil/demo-hil.json
# against them at the same speed-up, stops the emulators and prints the
# flexibility table. Usage:
#   scripts/hil-demo.sh [FLEXBED] [SPEED] [OUT_DB]
# Exit status: 0 when the run completed with both devices working; 1 when
# an emulator could not start or died, the run failed, or the run recorded
# a device alarm (device_lost: the settlement would count a device that
# never delivered); 130 when interrupted.
set -eu
cd "$(dirname "$0")/.."
FLEXBED=${1:-./build/flexbed}
SPEED=${2:-60}
OUT=${3:-results/demo-hil.db}
START=2023-10-02T15:50:00+03:00
mkdir -p "$(dirname "$OUT")"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/flexbed-hil-demo.XXXXXX")
BAT=
CHG=
cleanup() {
    [ -z "$BAT" ] || kill "$BAT" 2>/dev/null || true
    [ -z "$CHG" ] || kill "$CHG" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "hil-demo: $*" >&2
    exit 1
}

# The battery emulator picks a free port itself (--port 0) and says which.
"$FLEXBED" emulate battery --port 0 --start "$START" --speed "$SPEED" \
    --capacity-kwh 30 --soc 0.6 --soc-min 0.2 --soc-max 0.95 --round-trip 0.92 \
    --p-charge-max-kw 10 --p-discharge-max-kw 10 --ramp-kw-per-s 0.5 --latency 35s \
    >"$WORK/battery.out" 2>"$WORK/battery.err" &
BAT=$!
MPORT=
i=0
while [ $i -lt 100 ]; do
    MPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$WORK/battery.out" | head -n 1)
    [ -z "$MPORT" ] || break
    kill -0 "$BAT" 2>/dev/null || fail "the battery emulator did not start: $(cat "$WORK/battery.err")"
    sleep 0.1
    i=$((i + 1))
done
[ -n "$MPORT" ] || fail "the battery emulator did not say its port within 10 s"

# The OCPP central system is flexbed run's; the kernel names a free port
# (perl is part of every Debian system).
OPORT=$(perl -MIO::Socket::INET -e \
    '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die "$!\n"; print $s->sockport')
[ -n "$OPORT" ] || fail "no free port for the OCPP central system"

# The scenario with those ports, beside a copy of its base load.
mkdir "$WORK/hil" "$WORK/data"
cp scenarios/data/demo-base-load.csv "$WORK/data/"
sed -e "s/\"port\": 1502/\"port\": $MPORT/" -e "s/\"ocpp_port\": 8887/\"ocpp_port\": $OPORT/" \
    scenarios/hil/demo-hil.json >"$WORK/hil/demo-hil.json"
grep -q "\"port\": $MPORT" "$WORK/hil/demo-hil.json" && grep -q "\"ocpp_port\": $OPORT" "$WORK/hil/demo-hil.json" ||
    fail "scenarios/hil/demo-hil.json no longer has \"port\": 1502 and \"ocpp_port\": 8887 to replace"

"$FLEXBED" emulate charger --url "ws://127.0.0.1:$OPORT/ocpp/CP1" --start "$START" \
    --speed "$SPEED" --quiet --capacity-kwh 40 --soc 0.7 --soc-target 0.5 --soc-min-discharge 0.3 \
    --p-charge-max-kw 11 --p-discharge-max-kw 10 --granularity amps --min-current-a 6 \
    --ramp-kw-per-s 0.5 --latency 33s --efficiency 0.93 --meter-interval 0.2s \
    2>"$WORK/charger.err" &
CHG=$!

"$FLEXBED" run "$WORK/hil/demo-hil.json" --speed "$SPEED" --out "$OUT" --no-counterfactual ||
    fail "the run failed (exit $?)"
kill -0 "$BAT" 2>/dev/null || fail "the battery emulator died during the run: $(cat "$WORK/battery.err")"
kill -0 "$CHG" 2>/dev/null || fail "the charger emulator died during the run: $(cat "$WORK/charger.err")"
"$FLEXBED" report "$OUT" --brief

ALARMS=$("$FLEXBED" report "$OUT" --format json | sed -n 's/.*"event_counts":{[^}]*"alarm":\([0-9][0-9]*\).*/\1/p' | head -n 1)
[ -n "$ALARMS" ] || fail "the report of $OUT has no event counts"
[ "$ALARMS" -eq 0 ] || fail "$ALARMS device alarm(s) in $OUT (flexbed report $OUT lists them)"
