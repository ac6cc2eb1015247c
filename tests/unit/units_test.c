/*
 * units_test.c: durations and sizes with units (src/units.c): every unit,
 * decimals and their rounding, each error with its text, overflow, and the
 * format -> parse round trip.
 */
#include <stdint.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>

#include "core/units.h"

typedef int (*ParseFn)(const char *s, int64_t *v, char *err, size_t errsize);

/* Parses s and returns the value; asserts success. */
static int64_t parsed(ParseFn parse, const char *s)
{
    char err[128] = "";
    int64_t v = -1;
    int ret = parse(s, &v, err, sizeof(err));

    CU_ASSERT_EQUAL(ret, 0);
    if (ret < 0)
        fprintf(stderr, "'%s': %s\n", s, err);
    return v;
}

#define duration_ok(s) parsed(units_parse_duration, s)
#define size_ok(s)     parsed(units_parse_size, s)

/* Asserts that s fails with EINVAL, leaves the output alone and says why. */
static void bad(ParseFn parse, const char *s, const char *why)
{
    char err[128] = "";
    int64_t v = 12345;

    CU_ASSERT_EQUAL(parse(s, &v, err, sizeof(err)), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(v, 12345);
    CU_ASSERT_STRING_EQUAL(err, why);
    if (strcmp(err, why))
        fprintf(stderr, "'%s': got \"%s\", expected \"%s\"\n", s ? s : "(null)", err, why);
}

static void test_duration_units(void)
{
    CU_ASSERT_EQUAL(duration_ok("250us"), 250);
    CU_ASSERT_EQUAL(duration_ok("100ms"), 100000);
    CU_ASSERT_EQUAL(duration_ok("2s"), 2000000);
    CU_ASSERT_EQUAL(duration_ok("5m"), 300000000);
    CU_ASSERT_EQUAL(duration_ok("1h"), 3600000000LL);
    CU_ASSERT_EQUAL(duration_ok("7d"), 7LL * 86400 * 1000000);
    CU_ASSERT_EQUAL(duration_ok("0s"), 0);
    CU_ASSERT_EQUAL(duration_ok("2 s"), 2000000);
    CU_ASSERT_EQUAL(duration_ok("007s"), 7000000);
}

static void test_duration_decimals(void)
{
    CU_ASSERT_EQUAL(duration_ok("1.5s"), 1500000);
    /* exact, where a double would give 1099999.99... */
    CU_ASSERT_EQUAL(duration_ok("1.1s"), 1100000);
    CU_ASSERT_EQUAL(duration_ok(".5s"), 500000);
    CU_ASSERT_EQUAL(duration_ok("0.25ms"), 250);
    CU_ASSERT_EQUAL(duration_ok("1.5h"), 5400000000LL);
    CU_ASSERT_EQUAL(duration_ok("0.001d"), 86400000);
    /* rounded to the nearest microsecond, halves away from zero */
    CU_ASSERT_EQUAL(duration_ok("1.4us"), 1);
    CU_ASSERT_EQUAL(duration_ok("1.5us"), 2);
    CU_ASSERT_EQUAL(duration_ok("0.0000004s"), 0);
    CU_ASSERT_EQUAL(duration_ok("0.0000005s"), 1);
    CU_ASSERT_EQUAL(duration_ok("2.000000000000000001s"), 2000000);
}

static void test_duration_errors(void)
{
    bad(units_parse_duration, "", "is empty");
    bad(units_parse_duration, NULL, "is empty");
    bad(units_parse_duration, "20", "needs a unit, e.g. 20s");
    bad(units_parse_duration, "1.5", "needs a unit, e.g. 20s");
    bad(units_parse_duration, "-2s", "must not be negative, got '-2s'");
    bad(units_parse_duration, "2x",
        "has an unknown unit 'x' (expected us, ms, s, m, h or d)");
    bad(units_parse_duration, "2S",
        "has an unknown unit 'S' (expected us, ms, s, m, h or d)");
    bad(units_parse_duration, "2sec",
        "has an unknown unit 'sec' (expected us, ms, s, m, h or d)");
    bad(units_parse_duration, "2s ",
        "has an unknown unit 's ' (expected us, ms, s, m, h or d)");
    bad(units_parse_duration, "abc",
        "is not a duration: 'abc' (e.g. 20s, 500ms, 1.5h)");
    bad(units_parse_duration, "s",
        "is not a duration: 's' (e.g. 20s, 500ms, 1.5h)");
    bad(units_parse_duration, "+2s",
        "is not a duration: '+2s' (e.g. 20s, 500ms, 1.5h)");
    bad(units_parse_duration, "1.s",
        "needs digits after the decimal point: '1.s'");
    bad(units_parse_duration, "1.2.3s",
        "has an unknown unit '.3s' (expected us, ms, s, m, h or d)");
    bad(units_parse_duration, "0.1234567890123456789s",
        "has too many decimals: '0.1234567890123456789s'");
}

static void test_duration_overflow(void)
{
    /* INT64_MAX us is 106751991 days and a bit */
    CU_ASSERT_EQUAL(duration_ok("106751991d"), 106751991LL * 86400 * 1000000);
    CU_ASSERT_EQUAL(duration_ok("9223372036854775807us"), INT64_MAX);
    bad(units_parse_duration, "106751992d", "is too large: '106751992d'");
    bad(units_parse_duration, "9223372036854775808us",
        "is too large: '9223372036854775808us'");
    bad(units_parse_duration, "99999999999999999999s",
        "is too large: '99999999999999999999s'");
    /* the fraction tips it over */
    bad(units_parse_duration, "9223372036854775807.9us",
        "is too large: '9223372036854775807.9us'");
}

static void test_size_units(void)
{
    CU_ASSERT_EQUAL(size_ok("128000"), 128000);
    CU_ASSERT_EQUAL(size_ok("800k"), 800000);
    CU_ASSERT_EQUAL(size_ok("800K"), 800000);
    CU_ASSERT_EQUAL(size_ok("3M"), 3000000);
    CU_ASSERT_EQUAL(size_ok("2G"), 2000000000);
    CU_ASSERT_EQUAL(size_ok("4Ki"), 4096);
    CU_ASSERT_EQUAL(size_ok("2Mi"), 2097152);
    CU_ASSERT_EQUAL(size_ok("1Gi"), 1073741824);
    CU_ASSERT_EQUAL(size_ok("1.5M"), 1500000);
    CU_ASSERT_EQUAL(size_ok("0.5Ki"), 512);
    CU_ASSERT_EQUAL(size_ok("2.5"), 3);
    CU_ASSERT_EQUAL(size_ok("1.0001k"), 1000);
    CU_ASSERT_EQUAL(size_ok("0"), 0);
    CU_ASSERT_EQUAL(size_ok("9223372036854775807"), INT64_MAX);
}

static void test_size_errors(void)
{
    bad(units_parse_size, "", "is empty");
    bad(units_parse_size, "-1M", "must not be negative, got '-1M'");
    bad(units_parse_size, "3m", "has an unknown unit 'm' (expected k, M, G, Ki, Mi or Gi)");
    bad(units_parse_size, "3Mb", "has an unknown unit 'Mb' (expected k, M, G, Ki, Mi or Gi)");
    bad(units_parse_size, "1e6", "has an unknown unit 'e6' (expected k, M, G, Ki, Mi or Gi)");
    bad(units_parse_size, "M", "is not a size: 'M' (e.g. 3M, 800k, 128000)");
    bad(units_parse_size, "fast", "is not a size: 'fast' (e.g. 3M, 800k, 128000)");
    bad(units_parse_size, "9223372036854775808", "is too large: '9223372036854775808'");
    bad(units_parse_size, "10000000000G", "is too large: '10000000000G'");
}

static void test_error_buffer(void)
{
    char err[8];
    int64_t v;

    /* a short buffer truncates the text but still fails */
    CU_ASSERT_EQUAL(units_parse_size("3x", &v, err, sizeof(err)), AVERROR(EINVAL));
    CU_ASSERT_STRING_EQUAL(err, "has an ");
    /* and no buffer at all is allowed */
    CU_ASSERT_EQUAL(units_parse_size("3x", &v, NULL, 0), AVERROR(EINVAL));
}

static void test_format_duration(void)
{
    static const struct { int64_t us; const char *text; } cases[] = {
        { 0, "0s" },
        { 1, "1us" },
        { 1500, "1500us" },
        { 100000, "100ms" },
        { 1500000, "1500ms" },
        { 2000000, "2s" },
        { 90000000, "90s" },
        { 300000000, "5m" },
        { 3600000000LL, "1h" },
        { 5400000000LL, "90m" },
        { 86400000000LL, "1d" },
        { 7LL * 86400000000LL, "7d" },
        { INT64_MAX, "9223372036854775807us" },
    };
    char buf[32];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t back = -1;
        CU_ASSERT_STRING_EQUAL(units_format_duration(cases[i].us, buf, sizeof(buf)),
                               cases[i].text);
        /* and what it prints parses back to the same value */
        CU_ASSERT_EQUAL(units_parse_duration(buf, &back, NULL, 0), 0);
        CU_ASSERT_EQUAL(back, cases[i].us);
    }
    /* truncation keeps the buffer terminated */
    CU_ASSERT_STRING_EQUAL(units_format_duration(1500000, buf, 4), "150");
}

int main(void)
{
    CU_pSuite s;
    int failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("units", NULL, NULL);
    if (!s ||
        !CU_add_test(s, "duration units", test_duration_units) ||
        !CU_add_test(s, "duration decimals", test_duration_decimals) ||
        !CU_add_test(s, "duration errors", test_duration_errors) ||
        !CU_add_test(s, "duration overflow", test_duration_overflow) ||
        !CU_add_test(s, "size units", test_size_units) ||
        !CU_add_test(s, "size errors", test_size_errors) ||
        !CU_add_test(s, "error buffer", test_error_buffer) ||
        !CU_add_test(s, "format duration", test_format_duration)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
