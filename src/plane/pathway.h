/*
 * pathway.h: CDN pathways in the documents viewers read (HLS and DASH
 * Content Steering), and the synthetic viewer's readers of those documents.
 *
 * An HLS or DASH output may be reached by viewers through several CDNs
 * ("pathways": cdn-a, cdn-b), and a steering server tells players which to
 * prefer. libav writes the multivariant playlist and the MPD for one origin;
 * an io_open hook hands what libav wrote to the rewriters here, which add
 * what Content Steering needs and return the text to upload:
 *
 *   HLS (Apple "HLS Content Steering Specification" v1.2, rfc8216bis):
 *     #EXT-X-CONTENT-STEERING:SERVER-URI="...",PATHWAY-ID="first"
 *     once, before the first rendition or variant; then every
 *     EXT-X-MEDIA rendition and every EXT-X-STREAM-INF /
 *     EXT-X-I-FRAME-STREAM-INF variant once per pathway, the variants with
 *     PATHWAY-ID="id", every relative URI resolved against that pathway's
 *     base, and every rendition GROUP-ID made the pathway's own
 *     ("group_aud" -> "group_aud@cdn-a"; pathway.c says why).
 *   DASH (DASH-IF Content Steering, ETSI TS 103 998):
 *     one <BaseURL serviceLocation="id">base</BaseURL> per pathway at MPD
 *     level, and <ContentSteering defaultServiceLocation="first"
 *     queryBeforeStart="true">server uri</ContentSteering> as the MPD's
 *     last child (pathway.c says where each goes and why).
 *
 * The functions are pure: text in, text appended to a caller's AVBPrint;
 * nothing is logged, nothing is kept. Errors are negative AVERROR codes:
 *   AVERROR(EINVAL)       the plan is unusable (no pathway, a bad id or
 *                         base, a duplicate id, `first` not a pathway);
 *   AVERROR_INVALIDDATA   the input is not what libav writes (empty, not a
 *                         playlist/MPD, a variant without its URI, a line
 *                         over PATHWAY_MAX_LINE, a NUL byte, truncated XML);
 *   AVERROR(EEXIST)       the input already carries steering (a second
 *                         rewrite would duplicate the pathways);
 *   AVERROR(ENOMEM)       out.
 * On failure what was appended to `out` is unspecified: the caller should
 * upload libav's text unchanged (players then see one pathway) and report.
 *
 * A query on a base (?token=..) reaches only the URIs the HLS rewriter
 * resolves (the media playlists and renditions listed in the multivariant
 * playlist): players resolve segment URIs against the playlist's or the
 * BaseURL's URL, which drops its query (RFC 3986 5.2.2), so a CDN token
 * that segments need belongs in the base's path, or in a cookie.
 *
 * Credentials: a base or a server URI may hold user:password@ or a token.
 * The rewriters write them verbatim, because players need them to reach
 * the CDN; the documents are for viewers, so whoever holds them may play.
 * (Browsers' fetch() refuses a URL with user:password@, XMLHttpRequest
 * takes it: prefer a token in the path.)
 * Do not log these strings or the documents (core/redact.h).
 */
#ifndef HS_PATHWAY_H
#define HS_PATHWAY_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/bprint.h>

/* Longest line (HLS) or tag (MPD) the readers accept; libav's are < 1 KiB. */
#define PATHWAY_MAX_LINE 16384
/* Longest pathway id we accept (the specs set no limit; the id travels in
 * every steering request as _HLS_pathway / _DASH_pathway). */
#define PATHWAY_ID_MAX 64

typedef struct Pathway {
    const char *id;      /* [A-Za-z0-9._-]+ (pathway_id_valid) */
    const char *base;    /* URL prefix players reach the output's directory
                            through: http(s)://host/dir/ (pathway_base_valid);
                            a query (?token=..) is carried onto every URI the
                            HLS rewriter resolves against it */
} Pathway;

typedef struct SteeringPlan {
    const Pathway *pathways;     /* in the order they are written */
    int nb_pathways;             /* >= 1 */
    const char *server_uri;      /* steering manifest URI as players reach it
                                    (pathway_uri_valid) */
    const char *first;           /* pathway players use before the first
                                    steering manifest; NULL: pathways[0].id */
} SteeringPlan;

/*
 * libav's HLS multivariant playlist (in, len bytes; need not be
 * NUL-terminated) -> the same with Content Steering, appended to out.
 * Tags that concern the whole playlist (#EXTM3U, #EXT-X-VERSION,
 * #EXT-X-INDEPENDENT-SEGMENTS, ...) are written once; absolute URIs are
 * kept as they are. Returns 0 or an error above.
 */
int pathway_hls_multivariant(const char *in, size_t len, const SteeringPlan *p, AVBPrint *out);

/*
 * libav's MPD (in, len bytes) -> the same with one BaseURL per pathway and
 * a ContentSteering element, appended to out. An MPD that already has an
 * MPD-level BaseURL or a ContentSteering element is refused (EEXIST): the
 * pathways' bases would no longer be where segments are resolved from.
 */
int pathway_dash_mpd(const char *in, size_t len, const SteeringPlan *p, AVBPrint *out);

/* What the synthetic viewer learns from a media playlist or an MPD. */
typedef struct PlaylistNewest {
    int64_t seq;          /* sequence number of the newest segment (HLS:
                             EXT-X-MEDIA-SEQUENCE + index; MPD: $Number$);
                             -1 when none is listed */
    int nb_segments;      /* segments listed (for an MPD, in the chosen
                             Representation's SegmentTimeline) */
    double target_s;      /* HLS EXT-X-TARGETDURATION; MPD maxSegmentDuration
                             (else the longest S@d); 0 when absent */
    double newest_dur_s;  /* the newest segment's duration */
    char uri[1024];       /* the newest segment's URI as written (relative
                             or absolute); for an MPD, the media template
                             filled in for the first Representation of the
                             first video AdaptationSet */
    int ended;            /* HLS #EXT-X-ENDLIST; MPD type="static" */
} PlaylistNewest;

/*
 * Reads an HLS media playlist. Returns 0 (nw filled; nb_segments may be 0
 * for a live playlist that has none yet), AVERROR_INVALIDDATA for what is
 * not a media playlist (a multivariant one included), AVERROR(ENAMETOOLONG)
 * when the newest URI does not fit nw->uri.
 */
int pathway_hls_newest(const char *text, size_t len, PlaylistNewest *nw);

/*
 * Reads a DASH MPD that uses SegmentTemplate with a SegmentTimeline (what
 * libav's dash muxer writes). Returns 0, AVERROR_INVALIDDATA (no video
 * Representation, no SegmentTemplate@media, a timeline that does not add
 * up), AVERROR_PATCHWELCOME (SegmentTemplate@duration without a timeline,
 * SegmentList, SegmentBase: not written by libav), AVERROR(ENAMETOOLONG).
 */
int pathway_mpd_newest(const char *text, size_t len, PlaylistNewest *nw);

/*
 * libav 5.1's dash muxer says suggestedPresentationDelay = one segment:
 * dash.js then plays at the live edge on an empty buffer and stalls at
 * every segment (measured: tests/integration/t_steering.sh). Rewrites the
 * MPD root's suggestedPresentationDelay to at least `segments` times its
 * maxSegmentDuration (as hls.js keeps three target durations back),
 * appended to out. An MPD without either attribute, or whose delay is long
 * enough, is copied as it is. Returns 0, AVERROR_INVALIDDATA (no MPD
 * element), AVERROR(ENOMEM).
 */
int pathway_mpd_live_delay(const char *in, size_t len, double segments, AVBPrint *out);

/* The value of attribute name="..." in the tag text [tag, end) (after
 * its element name): *v, *ve its first and one-past-last characters. 1
 * when found. */
int pathway_attr(const char *tag, const char *end, const char *name, const char **v,
                 const char **ve);

/* uri, from a playlist or MPD read through a pathway, as a URL: kept when
 * absolute ("scheme:" or "//host"), else resolved against base (a
 * pathway base, pathway_base_valid), whose query it takes along.
 * Appended to out; 0 or AVERROR(ENOMEM). */
int pathway_resolve(const char *uri, const char *base, AVBPrint *out);

/* 1 when id is a legal pathway id: 1..PATHWAY_ID_MAX characters of
 * [a-z], [A-Z], [0-9], '.', '-', '_' (the HLS steering spec's rule; DASH
 * serviceLocation is any string, so the stricter rule serves both). */
int pathway_id_valid(const char *id);

/* 1 when base can be a pathway base: http:// or https://, a host, a path
 * ending in '/', an optional query, no fragment, only printable ASCII
 * without space, '"', '<', '>', '\\', '^', '`', '{', '|', '}'. */
int pathway_base_valid(const char *base);

/* 1 when uri can be a steering server URI: as a base, but any path. */
int pathway_uri_valid(const char *uri);

#endif
