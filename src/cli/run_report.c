/*
 * run_report.c: the run's report; see run_report.h.
 */
#include <errno.h>
#include <stdio.h>

#include <jansson.h>
#include <libavutil/error.h>
#include <libavutil/log.h>

#include "cli/run_report.h"

static json_t *stream_json(Pipeline *p)
{
    const JobStream *js = pipeline_stream(p);
    json_t *s = json_object(), *outs = json_array();

    if (!s || !outs) {
        json_decref(s);
        json_decref(outs);
        return NULL;
    }
    for (int o = 0; o < js->nb_outputs; o++) {
        OutputStats os;
        json_t *jo;

        output_stats(pipeline_output(p, o), &os);
        jo = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:b}",
                       "name", js->outputs[o].name,
                       "frames", (json_int_t)os.frames,
                       "frames_lost", (json_int_t)os.frames_lost,
                       "packets", (json_int_t)os.packets,
                       "switches", (json_int_t)os.switches,
                       "errors", (json_int_t)os.errors,
                       "failed", os.failed);
        json_array_append_new(outs, jo);
    }
    json_object_set_new(s, "name", json_string(js->name));
    json_object_set_new(s, "outputs", outs);
    return s;
}

int run_report_write(const char *path, Ecg *g, const char *job_path, int exit_code,
                     int64_t elapsed_us)
{
    json_t *root = json_object(), *streams = json_array();
    char tmp[4096];
    int ret = AVERROR(ENOMEM);

    if (!root || !streams)
        goto end;
    for (int s = 0; s < ecg_nb_streams(g); s++) {
        Pipeline *p = ecg_pipeline(g, s);
        if (p)
            json_array_append_new(streams, stream_json(p));
    }
    json_object_set_new(root, "job", json_string(job_path));
    json_object_set_new(root, "exit", json_integer(exit_code));
    json_object_set_new(root, "elapsed_s", json_real(elapsed_us / 1e6));
    json_object_set_new(root, "streams", streams);
    streams = NULL;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (json_dump_file(root, tmp, JSON_INDENT(2)) < 0 || rename(tmp, path) < 0) {
        ret = AVERROR(errno ? errno : EIO);
        av_log(NULL, AV_LOG_ERROR, "cannot write the report %s: %s\n", path, av_err2str(ret));
        remove(tmp);
        goto end;
    }
    ret = 0;
end:
    json_decref(streams);
    json_decref(root);
    return ret;
}
