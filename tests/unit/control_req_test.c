/*
 * control_req_test.c: a request line of the control protocol read
 * (src/cli/control_req.c): what is a request, what is no request, and the
 * error answered for each kind of bad line, with the command it names.
 */
#include <string.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include "cli/control_req.h"

/* Parses text; returns what control_parse_request returned, with the
 * error in err and the command (copied) in cmd. */
static int parse(const char *text, char *cmd, char *err)
{
    const char *c = NULL;
    json_t *req = (json_t *)&req;            /* must be set, NULL or not */
    int ret;

    err[0] = cmd[0] = 0;
    ret = control_parse_request(text, strlen(text), &req, &c, err, 256);
    if (c)
        snprintf(cmd, 64, "%s", c);
    CU_ASSERT(req != (json_t *)&req);
    CU_ASSERT(ret <= 0 || (req && json_is_object(req) && c));
    json_decref(req);
    return ret;
}

static void test_requests(void)
{
    char cmd[64], err[256];

    CU_ASSERT_EQUAL(parse("{\"v\":1,\"cmd\":\"status\"}", cmd, err), 1);
    CU_ASSERT_STRING_EQUAL(cmd, "status");
    /* trailing CR and spaces are no part of it */
    CU_ASSERT_EQUAL(parse("{\"v\":1,\"cmd\":\"stop\",\"now\":true} \r", cmd, err), 1);
    CU_ASSERT_STRING_EQUAL(cmd, "stop");
    CU_ASSERT_EQUAL(parse("", cmd, err), 0);
    CU_ASSERT_EQUAL(parse(" \r", cmd, err), 0);
}

static void test_errors(void)
{
    char cmd[64], err[256];

    CU_ASSERT_EQUAL(parse("{\"v\":1,", cmd, err), -1);
    CU_ASSERT(!strncmp(err, "not JSON: ", 10) && strstr(err, "(line 1, column"));
    CU_ASSERT_EQUAL(parse("[1,2]", cmd, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "a request is a JSON object: {\"v\":1,\"cmd\":\"status\"}");
    /* the version error names the command, to answer it as that command's */
    CU_ASSERT_EQUAL(parse("{\"v\":2,\"cmd\":\"status\"}", cmd, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "protocol version: this supervisor speaks \"v\":1");
    CU_ASSERT_STRING_EQUAL(cmd, "status");
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"status\"}", cmd, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "protocol version: this supervisor speaks \"v\":1");
    CU_ASSERT_EQUAL(parse("{\"v\":1}", cmd, err), -1);
    CU_ASSERT(!strncmp(err, "'cmd' is required", 17));
    CU_ASSERT_EQUAL(parse("{\"v\":1,\"cmd\":5}", cmd, err), -1);
    CU_ASSERT_STRING_EQUAL(cmd, "");
    /* a key twice is refused by the JSON reader */
    CU_ASSERT_EQUAL(parse("{\"v\":1,\"cmd\":\"status\",\"v\":1}", cmd, err), -1);
    CU_ASSERT(!strncmp(err, "not JSON: duplicate object key", 30));
    /* a NUL inside the line is not JSON either */
    CU_ASSERT_EQUAL(control_parse_request("{\"v\":1}\0x", 9, &(json_t *){ NULL },
                                          &(const char *){ NULL }, err, sizeof(err)), -1);
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("control_req", NULL, NULL);
    CU_add_test(s, "requests", test_requests);
    CU_add_test(s, "errors", test_errors);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
