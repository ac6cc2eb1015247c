/*
 * runstat: runs a command and reports its wall time, CPU time and peak RSS,
 * for the benchmarks (the time(1) package is not on a fresh machine, and
 * wait4() gives the child's own figures, not the shell's).
 *
 *   runstat [-o FILE] COMMAND [ARGS...]
 *
 * Prints one line "wall_s=... user_s=... sys_s=... maxrss_kb=... status=..."
 * to FILE (default stderr) and exits with the command's status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *outpath = NULL;
    struct timespec t0, t1;
    struct rusage ru;
    FILE *out = stderr;
    int status, argi = 1;
    pid_t pid;

    if (argc > 2 && !strcmp(argv[1], "-o")) {
        outpath = argv[2];
        argi = 3;
    }
    if (argi >= argc) {
        fprintf(stderr, "usage: runstat [-o FILE] COMMAND [ARGS...]\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = fork();
    if (pid < 0) {
        perror("runstat: fork");
        return 2;
    }
    if (!pid) {
        execvp(argv[argi], argv + argi);
        perror("runstat: exec");
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("runstat: wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (outpath && !(out = fopen(outpath, "a"))) {
        perror(outpath);
        out = stderr;
    }
    fprintf(out, "wall_s=%.3f user_s=%.3f sys_s=%.3f maxrss_kb=%ld status=%d\n",
            t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9,
            ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss,
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    if (out != stderr)
        fclose(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
