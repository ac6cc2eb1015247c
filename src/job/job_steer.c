/*
 * job_steer.c: the loader of an output's CDN pathways and its Content
 * Steering manifest (job.h: JobPathway, JobSteering).
 *
 *   pathways:
 *     - { id: cdn-a, base: "https://a.cdn.example/live/news/" }
 *     - { id: cdn-b, base: "https://b.cdn.example/live/news/" }
 *   steering:
 *     ttl: 10s
 *     uri: "https://steer.example/news/main.json"
 *     demote_on: risk            # or failure: only once its viewer fails
 *
 * What players are given must be usable as it is: bases and the steering
 * URI are absolute http(s) URLs (a player resolves the variants against
 * them), ids are what HLS allows in a PATHWAY-ID, and the manifest's path
 * is served by the supervisor's HTTP endpoint, which must therefore be on.
 * A token in a base or the URI is a secret: masked in every log line.
 */
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "core/comp.h"
#include "job/job_int.h"

static const char *const pathway_keys[] = { "id", "base", NULL };
static const char *const steering_keys[] = { "uri", "ttl", "demote_on", NULL };
static const char *const demote_words[] = { "risk", "failure", NULL };

/* A TTL above an hour steers nobody in time; players count it in seconds. */
#define MAX_STEERING_TTL_US (3600 * 1000000LL)

/* HLS: PATHWAY-ID "MUST contain only characters from [a-z], [A-Z], [0-9],
 * '.', '-' and '_'"; DASH's serviceLocation takes the same. */
static int id_ok(const char *id)
{
    if (!*id)
        return 0;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-' || *c == '_'))
            return 0;
    return 1;
}

/* An absolute http(s) URL with a host: 1, else reported and 0. */
static int absolute_http(Loader *ld, const yaml_node_t *n, const char *key, const char *url)
{
    char proto[16], host[256], path[8];
    int port;

    av_url_split(proto, sizeof(proto), NULL, 0, host, sizeof(host), &port, path, sizeof(path), url);
    if ((av_strcasecmp(proto, "http") && av_strcasecmp(proto, "https")) || !host[0]) {
        report(ld, n, "%s must be an absolute http:// or https:// URL (players resolve "
               "against it)", key);
        return 0;
    }
    jl_register_secrets(ld, url);
    return 1;
}

/* The path of uri, without query or fragment: what the endpoint serves. */
static char *uri_path(Loader *ld, const char *uri)
{
    const char *p = strstr(uri, "://");
    size_t n;

    p = p ? strchr(p + 3, '/') : NULL;
    if (!p)
        return jy_strdup(ld, "/");
    n = strcspn(p, "?#");
    {
        char *s = av_strndup(p, n);
        if (!s)
            ld->enomem = 1;
        return s;
    }
}

static void load_one_pathway(Loader *ld, const yaml_node_t *item, const JobOutput *o,
                             JobPathway *pw, SeenSet *ids)
{
    yaml_node_t *n;

    pw->loc = (JobLoc){ (int)item->start_mark.line + 1, (int)item->start_mark.column + 1 };
    if (item->type != YAML_MAPPING_NODE) {
        report(ld, item, "a pathway must be a mapping {id: ..., base: ...}");
        return;
    }
    jy_check_keys(ld, item, "pathway", pathway_keys);
    if ((n = jy_map_require(ld, item, "pathway", "id")) &&
        jy_get_string(ld, item, "id", &pw->id) > 0 && pw->id) {
        if (!id_ok(pw->id))
            report(ld, n, "pathway id '%s' may hold only [A-Za-z0-9._-] (HLS PATHWAY-ID)", pw->id);
        else if (o->name && strlen(o->name) + 1 + strlen(pw->id) >= COMP_NAME_SIZE)
            report(ld, n, "pathway id '%s' is too long: output name, ':' and id must fit "
                   "in %d characters (its edge is edge:%s:%s)", pw->id, COMP_NAME_SIZE - 1,
                   o->name, pw->id);
        else
            jy_unique_name(ld, ids, "pathway", pw->id, n);
    }
    if ((n = jy_map_require(ld, item, "pathway", "base")) &&
        jy_get_string(ld, item, "base", &pw->base) > 0 && pw->base &&
        absolute_http(ld, n, "base", pw->base) && strpbrk(pw->base, "?#")) {
        /* players resolve segments against the playlist's URL, which drops
         * its query: a token there would not reach them */
        report(ld, n, "base is a directory URL without a query or fragment (put a CDN token "
               "in the path)");
    } else if (pw->base && pw->base[strlen(pw->base) - 1] != '/') {
        /* a directory: the playlists' relative names are appended to it */
        char *b = av_asprintf("%s/", pw->base);
        if (!b)
            ld->enomem = 1;
        av_free(pw->base);
        pw->base = b;
    }
}

static void load_steering(Loader *ld, const yaml_node_t *map, JobOutput *o)
{
    yaml_node_t *s, *n;
    JobSteering *st = &o->steering;

    st->ttl_us = JOB_DEFAULT_STEERING_TTL_US;
    if (!(s = jy_map_require(ld, map, "an output with pathways", "steering")))
        return;
    st->loc = (JobLoc){ (int)s->start_mark.line + 1, (int)s->start_mark.column + 1 };
    if (s->type != YAML_MAPPING_NODE) {
        report(ld, s, "steering must be a mapping {uri: ..., ttl: ...}");
        return;
    }
    jy_check_keys(ld, s, "steering", steering_keys);
    if ((n = jy_map_require(ld, s, "steering", "uri")) &&
        jy_get_string(ld, s, "uri", &st->uri) > 0 && st->uri &&
        absolute_http(ld, n, "steering uri", st->uri))
        st->path = uri_path(ld, st->uri);
    jy_get_word(ld, s, "demote_on", demote_words, &st->on_failure_only);
    if (jy_get_duration(ld, s, "ttl", MAX_STEERING_TTL_US, &st->ttl_us) > 0 &&
        st->ttl_us % 1000000) {
        report(ld, jy_map_get(ld, s, "ttl"), "steering ttl is told to players in whole "
               "seconds: write 10s, not a fraction");
    }
}

void jl_load_pathways(Loader *ld, const yaml_node_t *map, const JobStream *st, JobOutput *o,
                      const AVOutputFormat *ofmt)
{
    yaml_node_t *list = NULL;
    SeenSet ids = { 0 };
    int nb;

    if (jy_get_node(ld, map, "pathways", YAML_SEQUENCE_NODE, &list) <= 0) {
        yaml_node_t *s = jy_map_get(ld, map, "steering");
        if (s)
            report(ld, s, "steering without pathways: list the CDN paths under pathways:");
        return;
    }
    if (ofmt && strcmp(ofmt->name, "hls") && strcmp(ofmt->name, "dash")) {
        report(ld, list, "pathways are for hls and dash outputs (Content Steering), not %s",
               ofmt->name);
        return;
    }
    nb = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (nb < 1 || nb > JOB_MAX_PATHWAYS) {
        report(ld, list, "pathways: list 1 to %d CDN paths, not %d", JOB_MAX_PATHWAYS, nb);
        return;
    }
    if (!(o->pathways = av_calloc(nb, sizeof(*o->pathways)))) {
        ld->enomem = 1;
        return;
    }
    o->nb_pathways = nb;
    for (int i = 0; i < nb; i++)
        load_one_pathway(ld, jy_node_at(ld, list->data.sequence.items.start[i]), o,
                         &o->pathways[i], &ids);
    jy_seen_free(&ids);
    load_steering(ld, map, o);
    /* libav writes a variant's BANDWIDTH from its bitrate, and leaves out
     * a variant without one: players would find no pathway at all */
    for (int i = 0; i < o->nb_renditions && ofmt && !strcmp(ofmt->name, "hls"); i++)
        if (o->renditions[i] >= 0 && !st->renditions[o->renditions[i]].bitrate) {
            report(ld, list, "pathways: rendition '%s' needs a bitrate (the multivariant "
                   "playlist's BANDWIDTH comes from it)", st->renditions[o->renditions[i]].name);
            break;
        }
}

/* A place the job file gave, as libyaml marks it, to report at. */
static yaml_mark_t mark_of(JobLoc loc)
{
    return (yaml_mark_t){ .line = loc.line - 1, .column = loc.col - 1 };
}

void jl_check_steering(Loader *ld, const yaml_node_t *root, const Job *job)
{
    const JobOutput *seen[256];
    int nb_seen = 0;

    for (int s = 0; s < job->nb_streams; s++)
        for (int k = 0; k < job->streams[s].nb_outputs; k++) {
            const JobOutput *o = &job->streams[s].outputs[k];
            if (!o->steering.path)
                continue;
            if (!strcmp(o->steering.path, "/metrics") || !strcmp(o->steering.path, "/"))
                jy_report_at(ld, mark_of(o->steering.loc), "steering uri path '%s' is the "
                             "endpoint's own: choose another", o->steering.path);
            for (int i = 0; i < nb_seen; i++)
                if (!strcmp(seen[i]->steering.path, o->steering.path)) {
                    jy_report_at(ld, mark_of(o->steering.loc), "steering uri path '%s' is "
                                 "already the manifest of another output (line %d): each "
                                 "output needs its own", o->steering.path,
                                 seen[i]->steering.loc.line);
                    break;
                }
            if (nb_seen < (int)FF_ARRAY_ELEMS(seen))
                seen[nb_seen++] = o;
        }
    if (nb_seen && !job->supervisor.metrics_addr)
        report(ld, root, "an output steers viewers, and the steering manifest is served by the "
               "supervisor's HTTP endpoint: set supervisor: metrics: { listen: ADDR } (with "
               "allow_remote: true where players reach it from outside)");
}
