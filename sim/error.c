/*
 * error.c: error codes and the caller-owned message buffer.
 *
 * Every fallible call in flexbed returns 0 or a negative SIM_E* code; the
 * message in struct sim_err says what went wrong in words a user can act
 * on, naming the file, JSON path or peer.
 */
#include <stdio.h>

#include "sim.h"

const char *sim_strerror(int code)
{
    switch (code) {
    case SIM_OK: return "success";
    case SIM_EINVAL: return "invalid input";
    case SIM_ENOMEM: return "out of memory";
    case SIM_EIO: return "input/output error";
    case SIM_ECYCLE: return "dependency cycle";
    case SIM_ENOENT: return "not found";
    case SIM_ESTATE: return "not allowed in this state";
    case SIM_EINTR: return "interrupted";
    case SIM_ERANGE: return "out of range";
    case SIM_EFAIL: return "run failed";
    case SIM_EEXIST: return "already exists";
    default: return "unknown error";
    }
}

int sim_errf(struct sim_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}
