/*
 * proc.h: run the flexbed binary from a test, bounded in time, with its
 * stdout and stderr captured to files, and read the captures back.
 * Header-only: each integration test is one program.
 */
#ifndef FLEXBED_TEST_PROC_H
#define FLEXBED_TEST_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct proc_result {
    int exit_code; /* exit status, 128+signal if killed, -1 on timeout */
    char *out;     /* the whole of stdout, NUL-terminated (never NULL after a run) */
    char *errs;    /* the whole of stderr */
};

/*
 * Captures are read whole, whatever their size: a report names paths of
 * the clone, which can be long. Each capture stays allocated until the
 * test exits (a test runs a few dozen commands), chained from a static
 * list so that LeakSanitizer sees it reachable and atexit frees it.
 */
struct proc_capture {
    struct proc_capture *next;
    char text[];
};
static struct proc_capture *proc_captures;

static inline void proc_free_captures(void)
{
    while (proc_captures) {
        struct proc_capture *c = proc_captures;
        proc_captures = c->next;
        free(c);
    }
}

/* The first n-1 bytes of the file at path, for polling a running child's
 * output for a line it prints at start ("" if none yet). */
static inline void proc_read_head(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t r = fread(buf, 1, n - 1, f);
    buf[r] = '\0';
    fclose(f);
}

/* Read the file at path whole; "" when it cannot be read. Never NULL. */
static inline char *proc_slurp(const char *path)
{
    static int registered;
    if (!registered) {
        atexit(proc_free_captures);
        registered = 1;
    }
    size_t n = 0;
    FILE *f = fopen(path, "r");
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && st.st_size > 0)
        n = (size_t)st.st_size;
    struct proc_capture *c = malloc(sizeof *c + n + 1);
    if (!c) {
        fprintf(stderr, "proc_slurp: out of memory for %zu bytes\n", n);
        abort();
    }
    size_t r = f ? fread(c->text, 1, n, f) : 0;
    c->text[r] = '\0';
    if (f)
        fclose(f);
    c->next = proc_captures;
    proc_captures = c;
    return c->text;
}

static inline double proc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start argv (argv[0] is the program) in dir `tmp` with outputs captured.
 * Returns the pid or -1. */
static inline pid_t proc_start(const char *tmp, char *const argv[])
{
    char outp[PATH_MAX], errp[PATH_MAX];
    snprintf(outp, sizeof outp, "%s/.stdout", tmp);
    snprintf(errp, sizeof errp, "%s/.stderr", tmp);
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || nul < 0)
            _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        dup2(nul, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Wait for pid at most timeout_s; kill it on timeout. */
static inline void proc_wait(const char *tmp, pid_t pid, double timeout_s, struct proc_result *r)
{
    double t0 = proc_now();
    int status = 0;
    r->exit_code = -1;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            if (WIFEXITED(status))
                r->exit_code = WEXITSTATUS(status);
            else if (WIFSIGNALED(status))
                r->exit_code = 128 + WTERMSIG(status);
            break;
        }
        if (proc_now() - t0 > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/.stdout", tmp);
    r->out = proc_slurp(p);
    snprintf(p, sizeof p, "%s/.stderr", tmp);
    r->errs = proc_slurp(p);
}

/* Run FLEXBED_BINARY with the NULL-terminated arguments. */
static inline void flexbed_run(const char *tmp, double timeout_s, struct proc_result *r, ...)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)FLEXBED_BINARY;
    va_list ap;
    va_start(ap, r);
    const char *a;
    while (n < 31 && (a = va_arg(ap, const char *)) != NULL)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    pid_t pid = proc_start(tmp, argv);
    proc_wait(tmp, pid, timeout_s, r);
}

static inline int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* rm -rf of a test's temporary directory (flat, plus one level). */
static inline void rm_tree(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

#endif
