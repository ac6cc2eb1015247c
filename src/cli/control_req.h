/*
 * control_req.h: one request line of the control protocol read into a
 * request (control.h; README, "Control socket and hotspare ctl"): the
 * JSON, the envelope ("v", "cmd") and the errors answered for them. Pure:
 * no socket and no run, so that the fuzz target and tests reach it.
 */
#ifndef HS_CONTROL_REQ_H
#define HS_CONTROL_REQ_H

#include <stddef.h>

#include <jansson.h>

/*
 * Reads line (len bytes, without its newline; trailing CR and spaces are
 * dropped). Returns 1 with *req an object of this protocol's version that
 * names a command *cmd; 0 for an empty line (no request, no answer); -1
 * with the error answer's text in err. *req, when not NULL, is the
 * caller's reference (json_decref), also on -1: *cmd, set when the
 * request named a command, points into it.
 */
int control_parse_request(const char *line, size_t len, json_t **req, const char **cmd,
                          char *err, size_t err_size);

#endif
