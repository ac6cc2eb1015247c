/*
 * redact.c: URLs as they may be shown; see redact.h for the rules.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/redact.h"

typedef struct UrlParts {
    size_t scheme_len;           /* "rtmp" */
    const char *userinfo;        /* after "://", before '@'; NULL if none */
    size_t userinfo_len;
    const char *host;            /* host[:port] */
    size_t host_len;
    const char *path;            /* from the first '/' after the host */
    size_t path_len;
    const char *query;           /* after '?', NULL if none */
    size_t query_len;
    const char *fragment;        /* from '#', NULL if none */
} UrlParts;

static int is_scheme_char(int c)
{
    return isalnum(c) || c == '+' || c == '-' || c == '.';
}

/* Splits url; returns 0 when it is not "scheme://...". */
static int split_url(const char *url, size_t len, UrlParts *p)
{
    const char *sep, *auth, *end = url + len, *q;

    memset(p, 0, sizeof(*p));
    sep = memchr(url, ':', len);
    if (!sep || sep == url || end - sep < 3 || sep[1] != '/' || sep[2] != '/')
        return 0;
    for (q = url; q < sep; q++)
        if (!is_scheme_char((unsigned char)*q))
            return 0;
    p->scheme_len = sep - url;
    auth = sep + 3;
    /* authority ends at '/', '?' or '#' */
    for (q = auth; q < end && *q != '/' && *q != '?' && *q != '#'; q++)
        ;
    p->host = auth;
    p->host_len = q - auth;
    {
        /* the last '@' of the authority ends the userinfo */
        const char *at = NULL, *r;
        for (r = auth; r < q; r++)
            if (*r == '@')
                at = r;
        if (at) {
            p->userinfo = auth;
            p->userinfo_len = at - auth;
            p->host = at + 1;
            p->host_len = q - (at + 1);
        }
    }
    p->path = q;
    while (q < end && *q != '?' && *q != '#')
        q++;
    p->path_len = q - p->path;
    if (q < end && *q == '?') {
        /* SRT's query runs to the end: its streamid's access control
         * syntax ("streamid=#!::r=live/feed,m=publish") starts with '#' */
        int srt = p->scheme_len == 3 && !strncasecmp(url, "srt", 3);
        p->query = q + 1;
        while (q < end && (srt || *q != '#'))
            q++;
        p->query_len = q - p->query;
    }
    if (q < end && *q == '#')
        p->fragment = q;
    return 1;
}

static int is_rtmp_family(const char *url, size_t scheme_len)
{
    return scheme_len >= 4 && !strncasecmp(url, "rtmp", 4);
}

typedef struct Out {
    char *buf;
    size_t size, pos;
} Out;

static void out_put(Out *o, const char *s, size_t n)
{
    size_t room;
    if (o->pos + 1 >= o->size)
        return;
    room = o->size - 1 - o->pos;
    if (n > room)
        n = room;
    memcpy(o->buf + o->pos, s, n);
    o->pos += n;
    o->buf[o->pos] = 0;
}

static void out_str(Out *o, const char *s)
{
    out_put(o, s, strlen(s));
}

/* Redacts url[0..len) into o. */
static void redact_span(const char *url, size_t len, Out *o)
{
    UrlParts p;

    if (!split_url(url, len, &p)) {
        out_put(o, url, len);
        return;
    }
    out_put(o, url, p.scheme_len + 3);
    if (p.userinfo)
        out_str(o, "***@");
    out_put(o, p.host, p.host_len);

    if (is_rtmp_family(url, p.scheme_len) && p.path_len > 1) {
        /* keep "/app", mask what follows: the stream key */
        const char *app_end = memchr(p.path + 1, '/', p.path_len - 1);
        if (app_end) {
            out_put(o, p.path, app_end - p.path);
            out_str(o, "/***");
        } else {
            out_put(o, p.path, p.path_len);
        }
    } else {
        out_put(o, p.path, p.path_len);
    }

    if (p.query) {
        const char *q = p.query, *qend = p.query + p.query_len;
        out_str(o, "?");
        while (q < qend) {
            const char *amp = memchr(q, '&', qend - q);
            const char *seg_end = amp ? amp : qend;
            const char *eq = memchr(q, '=', seg_end - q);
            if (eq) {
                out_put(o, q, eq - q);
                out_str(o, "=***");
            } else if (seg_end > q) {
                out_str(o, "***");
            }
            if (amp)
                out_str(o, "&");
            q = seg_end + (amp ? 1 : 0);
            if (!amp)
                break;
        }
    }
    if (p.fragment)
        out_str(o, "#***");
}

char *redact_url(const char *url, char *buf, size_t size)
{
    Out o = { buf, size, 0 };
    if (!size)
        return buf;
    buf[0] = 0;
    if (url)
        redact_span(url, strlen(url), &o);
    return buf;
}

void redact_url_secrets(const char *url,
                        void (*fn)(void *opaque, const char *s, size_t len),
                        void *opaque)
{
    UrlParts p;
    size_t len = url ? strlen(url) : 0;

    if (!url || !split_url(url, len, &p))
        return;
    if (p.userinfo && p.userinfo_len) {
        const char *colon = memchr(p.userinfo, ':', p.userinfo_len);
        fn(opaque, p.userinfo, p.userinfo_len);
        if (colon && colon + 1 < p.userinfo + p.userinfo_len)
            fn(opaque, colon + 1, p.userinfo + p.userinfo_len - (colon + 1));
    }
    if (is_rtmp_family(url, p.scheme_len) && p.path_len > 1) {
        const char *app_end = memchr(p.path + 1, '/', p.path_len - 1);
        if (app_end && app_end + 1 < p.path + p.path_len)
            fn(opaque, app_end + 1, p.path + p.path_len - (app_end + 1));
    }
    if (p.query) {
        const char *q = p.query, *qend = p.query + p.query_len;
        while (q < qend) {
            const char *amp = memchr(q, '&', qend - q);
            const char *seg_end = amp ? amp : qend;
            const char *eq = memchr(q, '=', seg_end - q);
            if (eq && eq + 1 < seg_end)
                fn(opaque, eq + 1, seg_end - (eq + 1));
            q = seg_end + 1;
        }
    }
}

/* Characters that end a URL inside free text. */
static int ends_url(int c)
{
    return !c || isspace(c) || c == '\'' || c == '"' || c == '<' || c == '>' ||
           c == ')' || c == ']' || c == ',';
}

/* Does the URL that runs up to p end there? "url: reason", "url." and
 * "url, more" end it at the punctuation; inside a query a comma followed
 * by more of the URL is part of a value (an SRT streamid, "u=bob,r=k1"). */
static int url_ends_at(const char *p, int in_query)
{
    int last = isspace((unsigned char)p[1]) || !p[1];

    if (*p == ',' && in_query)
        return last;
    return ends_url((unsigned char)*p) ||
           ((*p == ':' || *p == '.' || *p == ';') && last);
}

char *redact_text(const char *text, char *buf, size_t size)
{
    Out o = { buf, size, 0 };
    const char *s = text, *mark;
    int in_query;

    if (!size)
        return buf;
    buf[0] = 0;
    while ((mark = strstr(s, "://"))) {
        const char *start = mark, *end = mark + 3;
        while (start > s && is_scheme_char((unsigned char)start[-1]))
            start--;
        if (start == mark) {           /* "://" without a scheme */
            out_put(&o, s, end - s);
            s = end;
            continue;
        }
        in_query = 0;
        while (!url_ends_at(end, in_query)) {
            in_query |= *end == '?';
            end++;
        }
        out_put(&o, s, start - s);
        redact_span(start, end - start, &o);
        s = end;
    }
    out_str(&o, s);
    return buf;
}
