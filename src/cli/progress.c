/*
 * progress.c: --progress blocks and the terminal status line; see
 * progress.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/log.h"
#include "cli/progress.h"

struct Progress {
    FILE *file;                  /* NULL: no --progress */
    int owns_file;
    int status_line;
};

int progress_alloc(Progress **pp, const char *path, int status_line)
{
    Progress *pg = av_mallocz(sizeof(*pg));

    *pp = NULL;
    if (!pg)
        return AVERROR(ENOMEM);
    if (path && !strcmp(path, "-")) {
        pg->file = stdout;
    } else if (path) {
        pg->file = fopen(path, "w");
        if (!pg->file) {
            int ret = AVERROR(errno);
            av_free(pg);
            return ret;
        }
        pg->owns_file = 1;
    }
    pg->status_line = status_line && isatty(STDERR_FILENO);
    *pp = pg;
    return 0;
}

void progress_free(Progress **pp)
{
    Progress *pg = *pp;

    if (!pg)
        return;
    if (pg->owns_file)
        fclose(pg->file);
    if (pg->status_line)
        log_status(NULL);
    av_freep(pp);
}

static void fmt_time(int64_t us, char *buf, size_t size, int frac_digits)
{
    int64_t s = us / 1000000;
    snprintf(buf, size, "%02d:%02d:%02d.%0*d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60),
             frac_digits, (int)(frac_digits == 6 ? us % 1000000 : us % 1000000 / 10000));
}

void progress_report(Progress *pg, Pipeline **pl, int nb, int64_t elapsed_us, int last)
{
    AVBPrint status;
    double elapsed = elapsed_us > 0 ? elapsed_us / 1e6 : 1e-6;

    av_bprint_init(&status, 0, AV_BPRINT_SIZE_AUTOMATIC);
    for (int i = 0; i < nb; i++) {
        PipelineProgress pr;
        double fps, bitrate, speed, q;
        char t[32];

        pipeline_progress(pl[i], &pr);
        fps = pr.frames / elapsed;
        bitrate = pr.out_time_us > 0 ? pr.total_size * 8.0 / (pr.out_time_us / 1e6) / 1000.0 : -1;
        speed = pr.out_time_us / 1e6 / elapsed;
        q = pr.quality >= 0 ? pr.quality / (double)FF_QP2LAMBDA : -1;

        if (pg->file) {
            FILE *f = pg->file;
            fmt_time(pr.out_time_us, t, sizeof(t), 6);
            fprintf(f, "stream=%s\nframe=%lld\nfps=%.2f\nstream_0_0_q=%.1f\n",
                    pipeline_name(pl[i]), (long long)pr.frames, fps, q);
            if (bitrate < 0)
                fprintf(f, "bitrate=N/A\n");
            else
                fprintf(f, "bitrate=%6.1fkbits/s\n", bitrate);
            fprintf(f, "total_size=%lld\nout_time_us=%lld\nout_time_ms=%lld\nout_time=%s\n"
                    "dup_frames=0\ndrop_frames=%lld\nspeed=%4.3gx\nprogress=%s\n",
                    (long long)pr.total_size, (long long)pr.out_time_us,
                    (long long)pr.out_time_us, t, (long long)pr.dropped, speed,
                    last ? "end" : "continue");
        }
        if (pg->status_line) {
            fmt_time(pr.out_time_us, t, sizeof(t), 2);
            av_bprintf(&status, "%s[%s] frame=%5lld fps=%3.0f time=%s speed=%4.2fx",
                       i ? "  " : "", pipeline_name(pl[i]), (long long)pr.frames, fps, t, speed);
            if (pr.outputs_failed)
                av_bprintf(&status, " (%d output%s down)", pr.outputs_failed,
                           pr.outputs_failed == 1 ? "" : "s");
        }
    }
    if (pg->file)
        fflush(pg->file);
    if (pg->status_line)
        log_status(last ? NULL : status.str);
    av_bprint_finalize(&status, NULL);
}
