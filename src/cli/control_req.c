/*
 * control_req.c: a request line of the control protocol; see
 * control_req.h. Split from control.c's client loop so that it can be
 * fuzzed without a socket.
 */
#include <stdio.h>

#include "cli/control.h"
#include "cli/control_req.h"

int control_parse_request(const char *line, size_t len, json_t **req, const char **cmd,
                          char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *jv;

    *req = NULL;
    *cmd = NULL;
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (!len)
        return 0;                 /* empty lines are not requests */
    *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*req) {
        snprintf(err, err_size, "not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        return -1;
    }
    if (!json_is_object(*req)) {
        snprintf(err, err_size, "a request is a JSON object: {\"v\":1,\"cmd\":\"status\"}");
        return -1;
    }
    jv = json_object_get(*req, "v");
    *cmd = json_string_value(json_object_get(*req, "cmd"));
    if (!json_is_integer(jv) || json_integer_value(jv) != CONTROL_VERSION) {
        snprintf(err, err_size, "protocol version: this supervisor speaks \"v\":%d",
                 CONTROL_VERSION);
        return -1;
    }
    if (!*cmd) {
        snprintf(err, err_size, "'cmd' is required: status, graph, provision, release, "
                 "switch, events, steer, reload, drain or stop");
        return -1;
    }
    return 1;
}
