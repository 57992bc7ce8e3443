#!/usr/bin/env python3
"""Writes scenarios/scale/eu-lv-week-40.json: the IEEE European LV feeder for
seven days with 20 home batteries and 20 EVs on its loads (the size at which
`flexbed bench report` measures reporting and plotting). Deterministic: run
it again and the file is the same. Usage: scripts/make-scale-scenario.py"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "scenarios", "scale", "eu-lv-week-40.json")

comps = [
    {"name": "bat_schedule", "type": "profile",
     "series": {"file": "../data/eu-lv/battery-schedule.csv", "value_column": "p_kw",
                "mode": "hold", "repeat": "1d"}},
]
conns = []
loads = [f"LOAD{i}" for i in range(1, 56)]
for i in range(20):
    name = f"battery{i + 1}"
    comps.append({"name": name, "type": "battery", "capacity_kwh": 13.5,
                  "p_charge_max_kw": 5, "p_discharge_max_kw": 5,
                  "soc_initial": 0.3 + 0.02 * (i % 10), "soc_min": 0.1, "soc_max": 0.95,
                  "round_trip_efficiency": 0.9, "ramp_kw_per_s": 1,
                  "setpoint": "bat_schedule.p_kw"})
    conns.append({"component": name, "load": loads[(2 * i) % 55]})
for i in range(20):
    name = f"ev{i + 1}"
    comps.append({"name": name, "type": "ev", "capacity_kwh": 50 + 5 * (i % 5),
                  "p_charge_max_kw": 7.4,
                  "arrival": {"normal": {"mean": "2024-01-15T18:00:00+00:00", "sd": "45min"}},
                  "departure": "2024-01-16T07:30:00+00:00",
                  "repeat": "1d",
                  "soc_arrival": {"uniform": {"min": 0.2, "max": 0.6}}, "soc_target": 0.9,
                  "phases": 1, "granularity": "amps", "policy": "charge"})
    conns.append({"component": name, "load": loads[(2 * i + 1) % 55]})
comps.insert(0, {"name": "feeder", "type": "feeder", "circuit": "../data/eu-lv/Master.dss",
                 "use_loadshapes": True, "connections": conns,
                 "record_buses": ["LOAD1", "LOAD32", "LOAD53"]})
scn = {
    "name": "eu-lv-week-40",
    "description": [
        "Scale case: the IEEE European LV feeder (../data/eu-lv/) for seven days",
        "of one-minute steps with 20 home batteries (13.5 kWh / 5 kW, the daily",
        "schedule of ../data/eu-lv/battery-schedule.csv) and 20 EVs (7.4 kW,",
        "charging on arrival around 18:00 every evening, leaving 07:30) on its",
        "loads. Written by scripts/make-scale-scenario.py. It is the size at",
        "which `flexbed bench report` measures reporting and plotting (about",
        "4.3 million samples).",
    ],
    "start": "2024-01-15T00:00:00+00:00",
    "end": "2024-01-22T00:00:00+00:00",
    "step": "1min",
    "seed": 40,
    "components": comps,
}
with open(OUT, "w") as f:
    json.dump(scn, f, indent=1)
    f.write("\n")
