/*
 * pathway.c: Content Steering in libav's multivariant playlist and MPD, and
 * the newest segment of a media playlist or MPD (pathway.h).
 *
 * Sources for where each element goes:
 *   - Apple, HLS Content Steering Specification v1.2b1: EXT-X-CONTENT-
 *     STEERING is a master (multivariant) playlist tag, ZERO-OR-ONCE, with
 *     SERVER-URI (required) and PATHWAY-ID (the pathway applied until the
 *     first steering manifest); PATHWAY-ID on EXT-X-STREAM-INF and
 *     EXT-X-I-FRAME-STREAM-INF; ids of [a-z][A-Z][0-9] . - _ .
 *   - hls.js src/controller/content-steering-controller.ts: levels are
 *     filtered by pathwayId; a rendition error is charged to the pathway of
 *     the first level that references its group (getPathwayForGroupId);
 *     pathway clones get their own groups, "<GROUP>_clone_<ID>". Its test
 *     playlist (tests/unit/controller/level-controller.ts,
 *     multivariantPlaylistWithPathways) gives every pathway its own
 *     GROUP-IDs (AAC-foo, AAC-bar). src/controller/level-controller.ts
 *     keys a level by "<PATHWAY-ID>-<bitrate>-<RESOLUTION>-<FRAME-RATE>-
 *     <CODECS>", so each pathway's copy of a variant stays its own level;
 *     the light build (no steering) drops the pathway from the key and
 *     takes the copies as redundant URLs of one level: the copies keep
 *     every other attribute as libav wrote it so that this still holds.
 *   - MPEG DASH schema (MPEGGroup/DASHSchema, 5th-Ed-AMD1): MPD children in
 *     the order ProgramInformation*, BaseURL*, Location*, PatchLocation*,
 *     ServiceDescription*, ..., Period+, Metrics*, EssentialProperty*,
 *     SupplementalProperty*, UTCTiming*, LeapSecondInformation?.
 *     BaseURL@serviceLocation is in that schema; ContentSteering is not
 *     (it comes with DASH-IF/ETSI TS 103 998 and the 6th edition).
 *     Eyevinn/dash-mpd's MPD type, generated from the 6th-edition schema,
 *     has ContentSteering after LeapSecondInformation: the last child.
 *   - dash.js DashManifestModel.getContentSteering(): the first
 *     ContentSteering child of MPD, at any position; text = server URL;
 *     defaultServiceLocation (space-separated list), queryBeforeStart,
 *     proxyServerURL, clientRequirement (default true).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>

#include "plane/pathway.h"

/* ---- ids and URLs ---------------------------------------------------- */

int pathway_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > PATHWAY_ID_MAX)
        return 0;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

/* Characters RFC 3986 leaves out of URIs, plus what would break the
 * documents: '"' ends an HLS quoted-string, '<' '>' are XML markup. */
static int url_char_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"<>\\^`{|}#", c);
}

/* http(s)://authority/path[?query]; need_dir: the path ends in '/' */
static int url_valid(const char *u, int need_dir)
{
    const char *a, *path, *q;

    if (!u)
        return 0;
    if (av_strstart(u, "https://", &a) || av_strstart(u, "http://", &a)) {
        for (const char *s = u; *s; s++)
            if (!url_char_ok(*s))
                return 0;
        path = strchr(a, '/');
        q = strchr(a, '?');
        if (!path || (q && q < path) || path == a)
            return 0;
        if (need_dir && (q ? q[-1] : u[strlen(u) - 1]) != '/')
            return 0;
        return strlen(u) < 4096;
    }
    return 0;
}

int pathway_base_valid(const char *base)
{
    return url_valid(base, 1);
}

int pathway_uri_valid(const char *uri)
{
    return url_valid(uri, 0);
}

static int plan_check(const SteeringPlan *p)
{
    int first_found = 0;

    if (!p || p->nb_pathways < 1 || !p->pathways || !pathway_uri_valid(p->server_uri))
        return AVERROR(EINVAL);
    for (int i = 0; i < p->nb_pathways; i++) {
        const Pathway *w = &p->pathways[i];
        if (!pathway_id_valid(w->id) || !pathway_base_valid(w->base))
            return AVERROR(EINVAL);
        for (int j = 0; j < i; j++)
            if (!strcmp(p->pathways[j].id, w->id))
                return AVERROR(EINVAL);
        first_found |= p->first && !strcmp(p->first, w->id);
    }
    return !p->first || first_found ? 0 : AVERROR(EINVAL);
}

static const char *plan_first(const SteeringPlan *p)
{
    return p->first ? p->first : p->pathways[0].id;
}

static int done(const AVBPrint *out)
{
    return av_bprint_is_complete(out) ? 0 : AVERROR(ENOMEM);
}

/* A document libav wrote: not empty, no NUL byte (the hook hands us bytes). */
static int text_ok(const char *in, size_t len)
{
    return in && len > 0 && !memchr(in, 0, len);
}

/* ---- lines ----------------------------------------------------------- */

typedef struct Lines {
    const char *p, *end;
} Lines;

/* The next line, without "\n" or "\r\n". Returns 1, 0 at the end, or
 * AVERROR_INVALIDDATA for a line over PATHWAY_MAX_LINE. */
static int next_line(Lines *l, const char **s, size_t *n)
{
    const char *nl;

    if (l->p >= l->end)
        return 0;
    nl = memchr(l->p, '\n', l->end - l->p);
    *s = l->p;
    *n = (nl ? nl : l->end) - l->p;
    l->p = nl ? nl + 1 : l->end;
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
    return *n > PATHWAY_MAX_LINE ? AVERROR_INVALIDDATA : 1;
}

/* Does s..end start with prefix? */
static int has_prefix(const char *s, const char *end, const char *prefix)
{
    size_t k = strlen(prefix);
    return (size_t)(end - s) >= k && !memcmp(s, prefix, k);
}

static int starts(const char *s, size_t n, const char *prefix)
{
    return has_prefix(s, s + n, prefix);
}

/* ---- URIs ------------------------------------------------------------ */

static int is_alpha(char c)
{
    return (c | 32) >= 'a' && (c | 32) <= 'z';
}

/* RFC 3986 scheme ":" (absolute), or "//" (another host): kept as written */
static int uri_absolute(const char *u, size_t n)
{
    size_t i = 0;

    if (n >= 2 && u[0] == '/' && u[1] == '/')
        return 1;
    if (n == 0 || !is_alpha(u[0]))
        return 0;
    while (i < n && (is_alpha(u[i]) || av_isdigit(u[i]) || u[i] == '+' || u[i] == '-' || u[i] == '.'))
        i++;
    return i < n && u[i] == ':';
}

/*
 * uri resolved against a pathway base (validated: http(s)://host/dir/?q).
 * "/x" takes the base's scheme and authority, "x" its directory. The
 * base's query (a CDN token) goes onto the result, because a player
 * resolving a relative URI against the base would drop it.
 */
static void resolve_uri(AVBPrint *out, const char *u, size_t n, const char *base)
{
    const char *q = strchr(base, '?');
    size_t dir = q ? (size_t)(q - base) : strlen(base);

    if (uri_absolute(u, n)) {
        av_bprint_append_data(out, u, n);
        return;
    }
    if (n && u[0] == '/')
        dir = strchr(strstr(base, "://") + 3, '/') - base;
    av_bprint_append_data(out, base, dir);
    av_bprint_append_data(out, u, n);
    if (q && q[1])
        av_bprintf(out, "%c%s", memchr(u, '?', n) ? '&' : '?', q + 1);
}

int pathway_resolve(const char *uri, const char *base, AVBPrint *out)
{
    resolve_uri(out, uri, strlen(uri), base);
    return done(out);
}

/* ---- HLS multivariant playlist --------------------------------------- */

enum HlsLine {
    HL_BLANK,      /* empty */
    HL_COMMENT,    /* "#" but not "#EXT" */
    HL_GLOBAL,     /* a tag about the whole playlist: written once */
    HL_MEDIA,      /* EXT-X-MEDIA: once per pathway */
    HL_VARIANT,    /* EXT-X-STREAM-INF: once per pathway, with its URI line */
    HL_IFRAME,     /* EXT-X-I-FRAME-STREAM-INF: once per pathway */
    HL_URI,
};

static int hls_classify(const char *s, size_t n)
{
    if (n == 0)
        return HL_BLANK;
    if (s[0] != '#')
        return HL_URI;
    if (!starts(s, n, "#EXT"))
        return HL_COMMENT;
    if (starts(s, n, "#EXT-X-MEDIA:"))
        return HL_MEDIA;
    if (starts(s, n, "#EXT-X-STREAM-INF:"))
        return HL_VARIANT;
    if (starts(s, n, "#EXT-X-I-FRAME-STREAM-INF:"))
        return HL_IFRAME;
    return HL_GLOBAL;
}

/* memmem for a bounded line */
static int line_has(const char *s, size_t n, const char *what)
{
    return memmem(s, n, what, strlen(what)) != NULL;
}

/* Checks the playlist's shape and finds where the first rendition or
 * variant starts (*body). */
static int hls_scan(const char *in, size_t len, const char **body)
{
    Lines l = { in, in + len };
    const char *s;
    size_t n;
    int ret, first = 1, want_uri = 0, nb_variants = 0;

    *body = NULL;
    while ((ret = next_line(&l, &s, &n)) > 0) {
        int k = hls_classify(s, n);
        if (first && !(n == 7 && !memcmp(s, "#EXTM3U", 7)))
            return AVERROR_INVALIDDATA;
        first = 0;
        if (want_uri != (k == HL_URI))
            return AVERROR_INVALIDDATA;     /* a variant without its URI, or a stray URI */
        want_uri = k == HL_VARIANT;
        nb_variants += k == HL_VARIANT;
        if (starts(s, n, "#EXT-X-CONTENT-STEERING") ||
            ((k == HL_VARIANT || k == HL_IFRAME) && line_has(s, n, "PATHWAY-ID=")))
            return AVERROR(EEXIST);
        if (starts(s, n, "#EXTINF") || starts(s, n, "#EXT-X-TARGETDURATION"))
            return AVERROR_INVALIDDATA;     /* a media playlist */
        if (!*body && (k == HL_MEDIA || k == HL_VARIANT || k == HL_IFRAME))
            *body = s;
    }
    if (ret < 0)
        return ret;
    return want_uri || !nb_variants ? AVERROR_INVALIDDATA : 0;
}

/* One attribute of an attribute-list: NAME=VALUE, VALUE maybe quoted. */
typedef struct Attr {
    const char *name, *val;
    size_t name_len, val_len;
} Attr;

/* Reads the attribute at *s (< end); moves *s past it and its comma. */
static int attr_next(const char **s, const char *end, Attr *a)
{
    const char *eq = memchr(*s, '=', end - *s), *v, *stop;

    if (!eq || eq == *s)
        return AVERROR_INVALIDDATA;
    a->name = *s;
    a->name_len = eq - *s;
    v = eq + 1;
    if (v < end && *v == '"') {
        const char *close = memchr(v + 1, '"', end - v - 1);
        if (!close)
            return AVERROR_INVALIDDATA;
        stop = close + 1;
        if (stop < end && *stop != ',')
            return AVERROR_INVALIDDATA;
    } else {
        stop = memchr(v, ',', end - v);
        stop = stop ? stop : end;
    }
    a->val = v;
    a->val_len = stop - v;
    *s = stop < end ? stop + 1 : end;
    return 0;
}

static int attr_is(const Attr *a, const char *name)
{
    return a->name_len == strlen(name) && !memcmp(a->name, name, a->name_len);
}

static int attr_quoted(const Attr *a)
{
    return a->val_len >= 2 && a->val[0] == '"';
}

/*
 * Which attributes change per pathway. Group references get the pathway's
 * suffix: each pathway's renditions have their own URIs (its base), so they
 * cannot share a group with another pathway's: a group holds alternatives
 * of one content ("All EXT-X-MEDIA tags in the same Group MUST have
 * different NAME attributes", RFC 8216 4.3.4.1.1), and a shared group
 * would let a cdn-b variant play audio from cdn-a, so steering away from a
 * failing cdn-a would not move its audio. hls.js charges a rendition's
 * error to the first pathway referencing the group, and names its own
 * clones' groups per pathway. '@' cannot occur in a pathway id, so
 * "<group>@<id>" never collides with another group's name.
 */
static int attr_is_group(const Attr *a, int kind)
{
    if (kind == HL_MEDIA)
        return attr_is(a, "GROUP-ID");
    return attr_is(a, "AUDIO") || attr_is(a, "VIDEO") || attr_is(a, "SUBTITLES") ||
           attr_is(a, "CLOSED-CAPTIONS");
}

/* A tag line "#NAME:attrs" rewritten for pathway w. */
static int hls_tag_for(AVBPrint *out, const char *s, size_t n, int kind, const Pathway *w)
{
    const char *colon = memchr(s, ':', n), *p = colon + 1, *end = s + n;
    int ret, empty = p == end;

    av_bprint_append_data(out, s, p - s);
    while (p < end) {
        Attr a;
        if ((ret = attr_next(&p, end, &a)) < 0)
            return ret;
        av_bprint_append_data(out, a.name, a.name_len + 1);
        if (attr_quoted(&a) && attr_is_group(&a, kind)) {
            av_bprint_append_data(out, a.val, a.val_len - 1);
            av_bprintf(out, "@%s\"", w->id);
        } else if (attr_quoted(&a) && attr_is(&a, "URI")) {
            av_bprint_chars(out, '"', 1);
            resolve_uri(out, a.val + 1, a.val_len - 2, w->base);
            av_bprint_chars(out, '"', 1);
        } else {
            av_bprint_append_data(out, a.val, a.val_len);    /* CLOSED-CAPTIONS=NONE too */
        }
        if (p < end)
            av_bprint_chars(out, ',', 1);
    }
    if (kind != HL_MEDIA)     /* the spec defines PATHWAY-ID on variants only */
        av_bprintf(out, "%sPATHWAY-ID=\"%s\"", empty ? "" : ",", w->id);
    av_bprint_chars(out, '\n', 1);
    return 0;
}

/* The body (from the first rendition/variant on) for pathway w, or, with
 * w NULL, the body's playlist-wide tags, which are written once. */
static int hls_body(AVBPrint *out, const char *body, const char *end, const Pathway *w)
{
    Lines l = { body, end };
    const char *s;
    size_t n;
    int ret;

    while ((ret = next_line(&l, &s, &n)) > 0) {
        int k = hls_classify(s, n);
        if (!w) {
            if (k == HL_GLOBAL)
                av_bprintf(out, "%.*s\n", (int)n, s);
        } else if (k == HL_MEDIA || k == HL_VARIANT || k == HL_IFRAME) {
            if ((ret = hls_tag_for(out, s, n, k, w)) < 0)
                return ret;
        } else if (k == HL_URI) {
            resolve_uri(out, s, n, w->base);
            av_bprint_chars(out, '\n', 1);
        } else if (k != HL_GLOBAL) {
            av_bprintf(out, "%.*s\n", (int)n, s);
        }
    }
    return ret;
}

int pathway_hls_multivariant(const char *in, size_t len, const SteeringPlan *p, AVBPrint *out)
{
    const char *body;
    int ret;

    if ((ret = plan_check(p)) < 0)
        return ret;
    if (!text_ok(in, len))
        return AVERROR_INVALIDDATA;
    if ((ret = hls_scan(in, len, &body)) < 0)
        return ret;
    /* the head (#EXTM3U, #EXT-X-VERSION, ...) ends with a newline: the
     * scan saw a line start after it */
    av_bprint_append_data(out, in, body - in);
    av_bprintf(out, "#EXT-X-CONTENT-STEERING:SERVER-URI=\"%s\",PATHWAY-ID=\"%s\"\n",
               p->server_uri, plan_first(p));
    for (int i = 0; i < p->nb_pathways; i++)
        if ((ret = hls_body(out, body, in + len, &p->pathways[i])) < 0)
            return ret;
    if ((ret = hls_body(out, body, in + len, NULL)) < 0)
        return ret;
    return done(out);
}

/* ---- XML (what libav's dash muxer writes) ------------------------------ */

enum XmlKind { XT_OPEN, XT_CLOSE, XT_EMPTY };

typedef struct XmlTag {
    int kind;
    const char *start, *end;     /* '<' .. one past '>' */
    const char *name;
    size_t name_len;
    int depth;                   /* the element's: the root is 0 */
} XmlTag;

typedef int (*XmlVisit)(void *opaque, const XmlTag *t);

#define XML_MAX_DEPTH 32

/* Skips a comment, PI or declaration at p ('<'); returns past it or NULL. */
static const char *xml_skip_special(const char *p, const char *end)
{
    const char *stop = p[1] == '?' ? "?>" : end - p >= 4 && !memcmp(p, "<!--", 4) ? "-->" : ">";
    const char *e = memmem(p + 2, end - p - 2, stop, strlen(stop));

    return e ? e + strlen(stop) : NULL;
}

/* The end of the tag at p ('<'), quotes respected; NULL when truncated. */
static const char *xml_tag_end(const char *p, const char *end)
{
    char quote = 0;

    for (const char *s = p + 1; s < end && s - p <= PATHWAY_MAX_LINE; s++) {
        if (quote) {
            quote = *s == quote ? 0 : quote;
        } else if (*s == '"' || *s == '\'') {
            quote = *s;
        } else if (*s == '>') {
            return s + 1;
        } else if (*s == '<') {
            return NULL;
        }
    }
    return NULL;
}

static void xml_name(XmlTag *t)
{
    const char *s = t->start + 1 + (t->kind == XT_CLOSE);

    t->name = s;
    while (s < t->end - 1 && !av_isspace(*s) && *s != '/' && *s != '>')
        s++;
    t->name_len = s - t->name;
}

/*
 * Walks the elements of an XML document, checking that start and end tags
 * match and that there is one root: enough to refuse a truncated or
 * garbled MPD. Calls visit for every start, end and empty-element tag.
 */
static int xml_walk(const char *in, size_t len, XmlVisit visit, void *opaque)
{
    const char *p = in, *end = in + len;
    XmlTag stack[XML_MAX_DEPTH];
    int depth = 0, roots = 0, ret;

    while ((p = memchr(p, '<', end - p))) {
        XmlTag t = { 0 };
        if (end - p >= 2 && (p[1] == '?' || p[1] == '!')) {
            if (!(p = xml_skip_special(p, end)))
                return AVERROR_INVALIDDATA;
            continue;
        }
        if (!(t.end = xml_tag_end(p, end)))
            return AVERROR_INVALIDDATA;
        t.start = p;
        t.kind = p[1] == '/' ? XT_CLOSE : t.end[-2] == '/' ? XT_EMPTY : XT_OPEN;
        xml_name(&t);
        if (!t.name_len)
            return AVERROR_INVALIDDATA;
        if (t.kind == XT_CLOSE) {
            if (!depth || stack[depth - 1].name_len != t.name_len ||
                memcmp(stack[depth - 1].name, t.name, t.name_len))
                return AVERROR_INVALIDDATA;
            depth--;
        } else if (depth == 0 && roots++) {
            return AVERROR_INVALIDDATA;
        }
        t.depth = depth;
        if (t.kind == XT_OPEN) {
            if (depth == XML_MAX_DEPTH)
                return AVERROR_INVALIDDATA;
            stack[depth++] = t;
        }
        if ((ret = visit(opaque, &t)) < 0)
            return ret;
        p = t.end;
    }
    return depth || !roots ? AVERROR_INVALIDDATA : 0;
}

static int xml_is(const XmlTag *t, const char *name)
{
    return t->name_len == strlen(name) && !memcmp(t->name, name, t->name_len);
}

/* v..e with the entities &amp; &lt; &gt; &quot; &apos; decoded, into buf.
 * Returns its length or AVERROR(ENAMETOOLONG). */
static int xml_unescape(const char *v, const char *e, char *buf, size_t size)
{
    static const char *const ent[][2] = {
        { "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" }, { "&quot;", "\"" }, { "&apos;", "'" },
    };
    size_t o = 0;

    while (v < e) {
        size_t j = 0, k = 1;
        while (j < FF_ARRAY_ELEMS(ent) && !has_prefix(v, e, ent[j][0]))
            j++;
        if (o + 1 >= size)
            return AVERROR(ENAMETOOLONG);
        if (j < FF_ARRAY_ELEMS(ent))
            k = strlen(ent[j][0]);
        buf[o++] = j < FF_ARRAY_ELEMS(ent) ? ent[j][1][0] : *v;
        v += k;
    }
    buf[o] = 0;
    return (int)o;
}

static const char *skip_space(const char *s, const char *end)
{
    while (s < end && av_isspace(*s))
        s++;
    return s;
}

/* The value of attribute name in tag t (decoded) into buf: its length,
 * AVERROR(ENOENT) when absent, AVERROR(ENAMETOOLONG), AVERROR_INVALIDDATA
 * when the attributes do not parse. Reads them in turn, so that a name
 * inside another attribute's value is never taken for one. */
static int xml_attr(const XmlTag *t, const char *name, char *buf, size_t size)
{
    const char *s = t->name + t->name_len, *end = t->end - 1 - (t->kind == XT_EMPTY);
    size_t k = strlen(name);

    while ((s = skip_space(s, end)) < end) {
        const char *n0 = s, *n1, *v, *e;
        while (s < end && *s != '=' && !av_isspace(*s))
            s++;
        n1 = s;
        s = skip_space(s, end);
        if (s >= end || *s != '=')
            return AVERROR_INVALIDDATA;
        s = skip_space(s + 1, end);
        if (s >= end || (*s != '"' && *s != '\''))
            return AVERROR_INVALIDDATA;
        v = s + 1;
        if (!(e = memchr(v, *s, end - v)))
            return AVERROR_INVALIDDATA;
        if ((size_t)(n1 - n0) == k && !memcmp(n0, name, k))
            return xml_unescape(v, e, buf, size);
        s = e + 1;
    }
    return AVERROR(ENOENT);
}

/* ---- DASH MPD rewrite ------------------------------------------------- */

typedef struct MpdSpots {
    const char *base_at;         /* BaseURLs go here: after the root's start
                                    tag and its ProgramInformation children */
    const char *steer_at;        /* ContentSteering: before "</MPD>" */
    int other;                   /* a child other than ProgramInformation seen */
    int exists;                  /* already has MPD-level BaseURL or steering */
    int root_ok;
} MpdSpots;

static int mpd_spots(void *opaque, const XmlTag *t)
{
    MpdSpots *m = opaque;

    if (t->depth == 0) {
        m->root_ok = xml_is(t, "MPD");
        if (t->kind == XT_OPEN)
            m->base_at = t->end;
        else
            m->steer_at = t->start;
        return m->root_ok ? 0 : AVERROR_INVALIDDATA;
    }
    if (t->depth != 1)
        return 0;
    if (xml_is(t, "BaseURL") || xml_is(t, "ContentSteering"))
        m->exists = 1;
    /* the schema's sequence starts ProgramInformation*, BaseURL* */
    if (!xml_is(t, "ProgramInformation"))
        m->other = 1;
    else if (t->kind != XT_OPEN && !m->other)
        m->base_at = t->end;
    return 0;
}

static void xml_escaped(AVBPrint *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            av_bprintf(out, "&amp;");
        else if (*s == '\'')
            av_bprintf(out, "&apos;");
        else
            av_bprint_chars(out, *s, 1);
    }
}

int pathway_dash_mpd(const char *in, size_t len, const SteeringPlan *p, AVBPrint *out)
{
    MpdSpots m = { 0 };
    int ret;

    if ((ret = plan_check(p)) < 0)
        return ret;
    if (!text_ok(in, len))
        return AVERROR_INVALIDDATA;
    if ((ret = xml_walk(in, len, mpd_spots, &m)) < 0)
        return ret;
    if (!m.root_ok || !m.base_at || !m.steer_at)
        return AVERROR_INVALIDDATA;
    if (m.exists)
        return AVERROR(EEXIST);
    av_bprint_append_data(out, in, m.base_at - in);
    for (int i = 0; i < p->nb_pathways; i++) {
        av_bprintf(out, "\n\t<BaseURL serviceLocation=\"%s\">", p->pathways[i].id);
        xml_escaped(out, p->pathways[i].base);
        av_bprintf(out, "</BaseURL>");
    }
    av_bprint_append_data(out, m.base_at, m.steer_at - m.base_at);
    /* queryBeforeStart: a player that joins while the first pathway fails
     * should learn that before its first segment; no proxyServerURL, and
     * clientRequirement stays at its default (true): players must steer */
    av_bprintf(out, "\t<ContentSteering defaultServiceLocation=\"%s\" queryBeforeStart=\"true\">",
               plan_first(p));
    xml_escaped(out, p->server_uri);
    av_bprintf(out, "</ContentSteering>\n");
    av_bprint_append_data(out, m.steer_at, in + len - m.steer_at);
    return done(out);
}

/* ---- numbers ---------------------------------------------------------- */

/* s..s+n, NUL-terminated in buf (NUMBER_MAX), for strtoll / strtod */
#define NUMBER_MAX 32
static int number_text(const char *s, size_t n, char *buf)
{
    if (n == 0 || n >= NUMBER_MAX)
        return AVERROR_INVALIDDATA;
    memcpy(buf, s, n);
    buf[n] = 0;
    return 0;
}

/* s..s+n as a whole decimal number */
static int parse_i64(const char *s, size_t n, int64_t *v)
{
    char buf[NUMBER_MAX], *e;

    if (number_text(s, n, buf) < 0)
        return AVERROR_INVALIDDATA;
    errno = 0;
    *v = strtoll(buf, &e, 10);
    return *e || errno ? AVERROR_INVALIDDATA : 0;
}

/* ... a duration in seconds, 0 <= v < 1e9 */
static int parse_f(const char *s, size_t n, double *v)
{
    char buf[NUMBER_MAX], *e;

    if (number_text(s, n, buf) < 0)
        return AVERROR_INVALIDDATA;
    *v = strtod(buf, &e);
    return *e || !(*v >= 0 && *v < 1e9) ? AVERROR_INVALIDDATA : 0;
}

static int copy_uri(PlaylistNewest *nw, const char *s, size_t n)
{
    if (n >= sizeof(nw->uri))
        return AVERROR(ENAMETOOLONG);
    memcpy(nw->uri, s, n);
    nw->uri[n] = 0;
    return 0;
}

/* ---- HLS media playlist ----------------------------------------------- */

typedef struct HlsMedia {
    int64_t msn;                 /* EXT-X-MEDIA-SEQUENCE (default 0) */
    int have_target;
    int pending;                 /* an EXTINF waits for its URI line */
    double pending_dur;
    const char *last;            /* the newest URI line */
    size_t last_len;
} HlsMedia;

/* One tag of a media playlist. */
static int hls_media_tag(HlsMedia *h, PlaylistNewest *nw, const char *s, size_t n)
{
    const char *v = memchr(s, ':', n);
    size_t vn = v ? n - (++v - s) : 0;

    if (starts(s, n, "#EXTINF:")) {
        const char *comma = memchr(v, ',', vn);
        h->pending = 1;
        return parse_f(v, comma ? (size_t)(comma - v) : vn, &h->pending_dur);
    }
    if (starts(s, n, "#EXT-X-TARGETDURATION:")) {
        h->have_target = 1;
        return parse_f(v, vn, &nw->target_s);
    }
    if (starts(s, n, "#EXT-X-MEDIA-SEQUENCE:"))
        return parse_i64(v, vn, &h->msn);
    if (starts(s, n, "#EXT-X-ENDLIST"))
        nw->ended = 1;
    if (starts(s, n, "#EXT-X-STREAM-INF") || starts(s, n, "#EXT-X-MEDIA:"))
        return AVERROR_INVALIDDATA;          /* a multivariant playlist */
    return 0;
}

int pathway_hls_newest(const char *text, size_t len, PlaylistNewest *nw)
{
    HlsMedia h = { 0 };
    Lines l = { text, text + len };
    const char *s;
    size_t n;
    int ret, first = 1;

    memset(nw, 0, sizeof(*nw));
    nw->seq = -1;
    if (!text_ok(text, len))
        return AVERROR_INVALIDDATA;
    while ((ret = next_line(&l, &s, &n)) > 0) {
        if (first && !(n == 7 && !memcmp(s, "#EXTM3U", 7)))
            return AVERROR_INVALIDDATA;
        first = 0;
        if (n && s[0] == '#') {
            if ((ret = hls_media_tag(&h, nw, s, n)) < 0)
                return ret;
        } else if (n) {
            if (!h.pending)
                return AVERROR_INVALIDDATA;  /* a URI without its EXTINF */
            h.pending = 0;
            h.last = s;
            h.last_len = n;
            nw->newest_dur_s = h.pending_dur;
            nw->nb_segments++;
        }
    }
    if (ret < 0 || h.pending || !h.have_target)
        return ret < 0 ? ret : AVERROR_INVALIDDATA;   /* truncated, or not a media playlist */
    if (!h.last)
        return 0;
    nw->seq = h.msn + nw->nb_segments - 1;
    return copy_uri(nw, h.last, h.last_len);
}

/* ---- DASH MPD: the newest segment ------------------------------------- */

typedef struct Template {
    char media[1024];
    int64_t timescale, start_number;
    int have_media, has_duration;
    int nb;                      /* segments in the timeline */
    int64_t next_t;              /* where the next S starts */
    int64_t last_t, last_d, max_d;
} Template;

typedef struct MpdRead {
    PlaylistNewest *nw;
    int state;                   /* MR_* */
    int as_video;                /* the AdaptationSet being read says video */
    int as_depth;
    char rep_id[256];
    int64_t bandwidth;
    Template as_tpl, rep_tpl;
    Template *tpl;               /* the SegmentTemplate being read */
    double max_seg_s;
    int unsupported;
} MpdRead;

enum { MR_SEEK, MR_REP, MR_DONE };

/* ISO 8601 duration as written in MPDs (PnDTnHnMnS) in seconds; -1 if bad */
static double iso_duration(const char *s)
{
    static const struct { char c; double mul; } units[] = {
        { 'D', 86400 }, { 'H', 3600 }, { 'M', 60 }, { 'S', 1 },
    };
    double total = 0;
    int in_time = 0;

    if (*s++ != 'P')
        return -1;
    while (*s) {
        char *e;
        double v;
        if (*s == 'T') {
            in_time = 1;
            s++;
            continue;
        }
        v = strtod(s, &e);
        if (e == s)
            return -1;
        for (size_t i = 0; i < FF_ARRAY_ELEMS(units); i++)
            if (*e == units[i].c && (in_time || *e == 'D'))
                total += v * units[i].mul;
        s = *e ? e + 1 : e;
    }
    return total;
}

static int attr_i64(const XmlTag *t, const char *name, int64_t *v)
{
    char buf[32];
    int ret = xml_attr(t, name, buf, sizeof(buf));

    return ret < 0 ? ret : parse_i64(buf, ret, v);
}

/* SegmentTemplate start tag: attributes override what it inherits. */
static int mpd_template(MpdRead *r, const XmlTag *t, Template *tpl)
{
    int64_t v;
    int ret = xml_attr(t, "media", tpl->media, sizeof(tpl->media));

    if (ret >= 0)
        tpl->have_media = 1;
    else if (ret != AVERROR(ENOENT))
        return ret;
    if (attr_i64(t, "timescale", &v) >= 0)
        tpl->timescale = v;
    if (attr_i64(t, "startNumber", &v) >= 0)
        tpl->start_number = v;
    tpl->has_duration = attr_i64(t, "duration", &v) >= 0;
    tpl->nb = 0;
    tpl->next_t = 0;
    r->tpl = tpl;
    return tpl->timescale > 0 ? 0 : AVERROR_INVALIDDATA;
}

/* One S of a SegmentTimeline. */
static int mpd_s(Template *tpl, const XmlTag *t)
{
    int64_t st = tpl->next_t, d, rep = 0;

    int ret;

    if (attr_i64(t, "d", &d) < 0 || d <= 0)
        return AVERROR_INVALIDDATA;
    if ((ret = attr_i64(t, "t", &st)) < 0 && ret != AVERROR(ENOENT))
        return AVERROR_INVALIDDATA;
    if ((ret = attr_i64(t, "r", &rep)) < 0 && ret != AVERROR(ENOENT))
        return AVERROR_INVALIDDATA;
    if (rep < 0)
        return AVERROR_PATCHWELCOME;          /* r=-1: until the next S; libav does not write it */
    if (rep > INT32_MAX - tpl->nb || st < 0 || d > INT64_MAX / (rep + 2) || st > INT64_MAX / 2)
        return AVERROR_INVALIDDATA;
    tpl->nb += (int)rep + 1;
    tpl->last_t = st + rep * d;
    tpl->last_d = d;
    tpl->next_t = st + (rep + 1) * d;
    tpl->max_d = FFMAX(tpl->max_d, d);
    return 0;
}

static int mpd_adaptation(MpdRead *r, const XmlTag *t)
{
    char v[64];

    r->as_video = (xml_attr(t, "contentType", v, sizeof(v)) >= 0 && !strcmp(v, "video")) ||
                  (xml_attr(t, "mimeType", v, sizeof(v)) >= 0 && av_strstart(v, "video/", NULL));
    r->as_depth = t->depth;
    memset(&r->as_tpl, 0, sizeof(r->as_tpl));
    r->as_tpl.timescale = 1;
    r->as_tpl.start_number = 1;
    return 0;
}

static int mpd_representation(MpdRead *r, const XmlTag *t)
{
    char v[64];
    int ret;

    if (!r->as_video && !(xml_attr(t, "mimeType", v, sizeof(v)) >= 0 && av_strstart(v, "video/", NULL)))
        return 0;
    if ((ret = xml_attr(t, "id", r->rep_id, sizeof(r->rep_id))) < 0)
        return ret == AVERROR(ENOENT) ? AVERROR_INVALIDDATA : ret;
    if (attr_i64(t, "bandwidth", &r->bandwidth) < 0)
        r->bandwidth = 0;
    r->rep_tpl = r->as_tpl;
    r->state = t->kind == XT_EMPTY ? MR_DONE : MR_REP;
    return 0;
}

static int mpd_read_tag(void *opaque, const XmlTag *t)
{
    MpdRead *r = opaque;
    char v[64];

    if (t->depth == 0 && t->kind != XT_CLOSE) {
        if (!xml_is(t, "MPD"))
            return AVERROR_INVALIDDATA;
        r->nw->ended = xml_attr(t, "type", v, sizeof(v)) >= 0 && !strcmp(v, "static");
        if (xml_attr(t, "maxSegmentDuration", v, sizeof(v)) >= 0)
            r->max_seg_s = iso_duration(v);
        return 0;
    }
    if (r->state == MR_DONE)
        return 0;
    if (xml_is(t, "SegmentList") || xml_is(t, "SegmentBase"))
        r->unsupported |= r->state == MR_REP || (r->as_video && t->depth == r->as_depth + 1);
    if (xml_is(t, "AdaptationSet") && t->kind != XT_CLOSE)
        return mpd_adaptation(r, t);
    if (xml_is(t, "Representation") && t->kind != XT_CLOSE && r->state == MR_SEEK)
        return mpd_representation(r, t);
    if (xml_is(t, "Representation") && t->kind == XT_CLOSE && r->state == MR_REP)
        r->state = MR_DONE;
    if (xml_is(t, "SegmentTemplate") && t->kind != XT_CLOSE && (r->state == MR_REP || r->as_video))
        return mpd_template(r, t, r->state == MR_REP ? &r->rep_tpl : &r->as_tpl);
    if (xml_is(t, "SegmentTemplate") && t->kind == XT_CLOSE)
        r->tpl = NULL;
    if (xml_is(t, "S") && t->kind != XT_CLOSE && r->tpl)
        return mpd_s(r->tpl, t);
    return 0;
}

/* "%05d" after an identifier: the width, or 0; *s moves past it */
static int template_width(const char **s)
{
    int w = 0;

    if (**s != '%')
        return 0;
    for ((*s)++; **s == '0' || av_isdigit(**s); (*s)++)
        w = w * 10 + (**s - '0');
    if (**s != 'd' || w > 32)
        return -1;
    (*s)++;
    return w;
}

/* The media template with $RepresentationID$, $Number$, $Time$,
 * $Bandwidth$ and $$ filled in (ISO/IEC 23009-1 5.3.9.4.4). */
static int fill_template(const MpdRead *r, const Template *tpl, AVBPrint *out)
{
    static const char *const ids[] = { "RepresentationID", "Number", "Time", "Bandwidth" };
    const char *s = tpl->media;

    while (*s) {
        const char *d = strchr(s, '$'), *e;
        size_t i = 0;
        int w;
        if (!d) {
            av_bprintf(out, "%s", s);
            break;
        }
        av_bprint_append_data(out, s, d - s);
        s = d + 1;
        if (*s == '$') {
            av_bprint_chars(out, '$', 1);
            s++;
            continue;
        }
        while (i < FF_ARRAY_ELEMS(ids) && !av_strstart(s, ids[i], &e))
            i++;
        if (i == FF_ARRAY_ELEMS(ids) || (i == 0 && *e != '$'))
            return AVERROR_INVALIDDATA;
        s = e;
        if ((w = template_width(&s)) < 0 || *s++ != '$')
            return AVERROR_INVALIDDATA;
        if (i == 0)
            av_bprintf(out, "%s", r->rep_id);
        else
            av_bprintf(out, "%0*" PRId64, w, i == 1 ? tpl->start_number + tpl->nb - 1 :
                                              i == 2 ? tpl->last_t : r->bandwidth);
    }
    return 0;
}

int pathway_mpd_newest(const char *text, size_t len, PlaylistNewest *nw)
{
    MpdRead r = { .nw = nw };
    const Template *tpl = &r.rep_tpl;
    AVBPrint uri;
    int ret;

    memset(nw, 0, sizeof(*nw));
    nw->seq = -1;
    if (!text_ok(text, len))
        return AVERROR_INVALIDDATA;
    if ((ret = xml_walk(text, len, mpd_read_tag, &r)) < 0)
        return ret;
    if (r.state == MR_SEEK || !tpl->have_media)
        return AVERROR_INVALIDDATA;
    if (r.unsupported || (tpl->has_duration && !tpl->nb))
        return AVERROR_PATCHWELCOME;
    nw->nb_segments = tpl->nb;
    nw->target_s = r.max_seg_s > 0 ? r.max_seg_s : (double)tpl->max_d / tpl->timescale;
    if (!tpl->nb)
        return 0;
    nw->seq = tpl->start_number + tpl->nb - 1;
    nw->newest_dur_s = (double)tpl->last_d / tpl->timescale;
    av_bprint_init(&uri, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = fill_template(&r, tpl, &uri);
    if (ret >= 0)
        ret = av_bprint_is_complete(&uri) ? copy_uri(nw, uri.str, uri.len) : AVERROR(ENOMEM);
    av_bprint_finalize(&uri, NULL);
    return ret;
}

/* An attribute's duration, [v, e): seconds, or -1. */
static double attr_duration(const char *v, const char *e)
{
    char buf[64];

    if (e - v >= (ptrdiff_t)sizeof(buf))
        return -1;
    memcpy(buf, v, e - v);
    buf[e - v] = 0;
    return iso_duration(buf);
}

/* The value of attribute name in the tag [tag, end): [*v, *ve), or 0. */
int pathway_attr(const char *tag, const char *end, const char *name, const char **v,
                 const char **ve)
{
    size_t n = strlen(name);

    for (const char *p = tag; p + n + 2 < end; p++)
        if ((p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n' || p[-1] == '\r') &&
            !strncmp(p, name, n) && p[n] == '=' && p[n + 1] == '"') {
            *v = p + n + 2;
            *ve = memchr(*v, '"', end - *v);
            return *ve != NULL;
        }
    return 0;
}

int pathway_mpd_live_delay(const char *in, size_t len, double segments, AVBPrint *out)
{
    const char *end = in + len, *tag = NULL, *tag_end, *d, *de, *m, *me;
    double delay, seg;

    for (const char *p = in; p + 4 < end && !tag; p++)
        if (!strncmp(p, "<MPD", 4) && p[4] && strchr(" \t\r\n>", p[4]))
            tag = p;
    if (!tag || !(tag_end = memchr(tag, '>', end - tag)))
        return AVERROR_INVALIDDATA;
    if (!pathway_attr(tag + 1, tag_end, "suggestedPresentationDelay", &d, &de) ||
        !pathway_attr(tag + 1, tag_end, "maxSegmentDuration", &m, &me) ||
        (delay = attr_duration(d, de)) < 0 || (seg = attr_duration(m, me)) <= 0 ||
        delay >= segments * seg) {
        av_bprint_append_data(out, in, len);
        return done(out);
    }
    av_bprint_append_data(out, in, d - in);
    av_bprintf(out, "PT%.1fS", segments * seg);
    av_bprint_append_data(out, de, end - de);
    return done(out);
}
