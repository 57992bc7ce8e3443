#!/usr/bin/env python3
"""Reconstruct the demo transformer's base load for 2 October 2023.

The paper (Gazioglu et al., EEE-AM 2023, Fig. 11) shows the transformer load
only as a figure; no data were published. DEMO.md derives the base load in
the 16:00-16:45 window from the paper's own numbers: 14.18 kWh delivered in
0.75 h is 18.9 kW on average, and that was a 17 % reduction, so the base
load was about 18.9 / 0.17 = 111 kW.

This script writes a plausible 1-minute profile for a mixed residential and
commercial LV transformer on a Monday in early October: a night trough, a
morning rise, a midday plateau, the evening peak after sunset (about 18:50
local time in Eskisehir on that date) and a slow late-evening decline, plus
deterministic minute-to-minute fluctuation (an AR(1) process with a fixed
seed). The whole day is finally scaled so that the mean over 16:00-16:45 is
111.0 kW. It is a reconstruction, not a measurement; the scenario says so.

Run: python3 scripts/make-base-load.py > scenarios/data/demo-base-load.csv
"""
import math
import random

WINDOW_MEAN_KW = 111.0  # DEMO.md: 18.9 kW / 0.17


def bump(t_h, centre_h, width_h, height_kw):
    return height_kw * math.exp(-0.5 * ((t_h - centre_h) / width_h) ** 2)


def shape(t_h):
    base = 62.0                            # night-time floor
    p = base
    p += bump(t_h, 8.3, 1.2, 22.0)         # morning rise
    p += bump(t_h, 12.8, 2.6, 38.0)        # commercial midday plateau
    p += bump(t_h, 16.5, 1.6, 18.0)        # afternoon (shops, schools out)
    p += bump(t_h, 20.0, 1.7, 72.0)        # evening peak after sunset
    p -= bump(t_h, 4.0, 1.5, 10.0)         # deepest trough before dawn
    return p


def main():
    rng = random.Random(20231002)
    raw = []
    ar = 0.0
    for minute in range(24 * 60 + 1):
        ar = 0.9 * ar + rng.gauss(0.0, 0.9)
        raw.append(shape(minute / 60.0) + ar)
    window = raw[16 * 60:16 * 60 + 45]
    k = WINDOW_MEAN_KW / (sum(window) / len(window))
    print("# Reconstructed base load of the demo transformer, 2 Oct 2023 (UTC+3).")
    print("# NOT measured data: see scripts/make-base-load.py for how it was made.")
    print("# Scaled so that the 16:00-16:45 mean is %.1f kW (DEMO.md)." % WINDOW_MEAN_KW)
    print("time,p_kw")
    for minute, p in enumerate(raw):
        day = 2 + minute // 1440
        hh, mm = divmod(minute % 1440, 60)
        print("2023-10-%02dT%02d:%02d:00+03:00,%.3f" % (day, hh, mm, p * k))


if __name__ == "__main__":
    main()
