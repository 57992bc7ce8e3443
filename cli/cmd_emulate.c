/*
 * cmd_emulate.c: `flexbed emulate battery|charger ...`, device emulators
 * that put flexbed's models behind the protocols real devices speak
 * (Modbus TCP SunSpec battery inverter, OCPP 1.6J charge point), so that
 * the HIL paths run on loopback without hardware. The emulators live in
 * hil/; this file only dispatches.
 */
#include <stdio.h>
#include <string.h>

#include "../hil/hil.h"
#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: flexbed emulate DEVICE [OPTIONS]\n"
          "\n"
          "Run a device emulator until Ctrl-C:\n"
          "  battery   a SunSpec battery inverter on Modbus TCP (--port 1502)\n"
          "  charger   a V2G charge point on OCPP 1.6J (--url ws://127.0.0.1:PORT/ocpp/CP1)\n"
          "\n"
          "`flexbed emulate DEVICE --help` lists a device's options. See docs/hil.md.\n",
          f);
}

int cmd_emulate(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *dev = argv[1];
    if (!strcmp(dev, "--help") || !strcmp(dev, "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(dev, "battery"))
        return hil_emulate_battery(argc - 1, argv + 1);
    if (!strcmp(dev, "charger"))
        return hil_emulate_charger(argc - 1, argv + 1);
    fprintf(stderr, "flexbed emulate: unknown device \"%s\" (battery or charger)\n", dev);
    return CLI_USAGE;
}
