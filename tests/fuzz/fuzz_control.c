/*
 * fuzz_control.c: the control protocol's requests. The input is what a
 * client writes on the socket: it is cut into lines as the server cuts
 * it (a line longer than CONTROL_MAX_REQUEST is refused and skipped to
 * its end), each line read by control_parse_request, and the arguments of
 * a request read as the commands read them (instance names, wait_ms,
 * orders), without a run to act on.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <libavutil/log.h>

#include "cli/control.h"
#include "cli/control_req.h"
#include "ecg/ecg.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(AV_LOG_QUIET);
    return 0;
}

static void arguments(json_t *req)
{
    json_t *jinst = json_object_get(req, "instance"), *jorder = json_object_get(req, "order");
    char *text;

    if (json_is_string(jinst))
        ecg_parse_instance(json_string_value(jinst));
    for (size_t i = 0; json_is_array(jorder) && i < json_array_size(jorder); i++)
        (void)json_string_value(json_array_get(jorder, i));
    (void)json_integer_value(json_object_get(req, "wait_ms"));
    (void)json_is_true(json_object_get(req, "follow"));
    /* answers echo parts of requests back ("order"): they must dump */
    if ((text = json_dumps(req, JSON_COMPACT)))
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;

    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        size_t len = (nl ? nl : end) - p;
        char err[512];
        const char *cmd;
        json_t *req = NULL;

        if (!nl)
            break;                /* a line without its end is not handled yet */
        /* on an error too, req may hold the object *cmd points into */
        if (len <= CONTROL_MAX_REQUEST &&
            control_parse_request(p, len, &req, &cmd, err, sizeof(err)) > 0)
            arguments(req);
        json_decref(req);
        p = nl + 1;
    }
    return 0;
}
