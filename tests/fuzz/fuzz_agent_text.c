/*
 * fuzz_agent_text.c: the health agents' text parsers, each a pure
 * function of what /proc, sysfs, fdinfo or a job's URL says. The first
 * byte chooses the parser (modulo their number), the rest is the text,
 * NUL-terminated as the agents read it. Parsers of two texts (the cgroup
 * files, two DRM fdinfo reads a second apart) take them split at the
 * first form feed.
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "core/sockdiag.h"
#include "hma/agent_disk.h"
#include "hma/agent_drm.h"
#include "hma/agent_host.h"
#include "hma/agent_mem.h"
#include "hma/agent_net.h"
#include "hma/agent_nvml.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(AV_LOG_QUIET);
    return 0;
}

/* Two DRM reads of one process: parsed, added to samples, compared. */
static void drm(const char *a, const char *b)
{
    AgentDrmSample *s = calloc(2, sizeof(*s));
    AgentDrmStats *st = malloc(sizeof(*st));
    AgentDrmClient *c = malloc(sizeof(*c));

    if (s && st && c) {
        if (agent_drm_parse_fdinfo(a, c) == 0)
            agent_drm_sample_add(&s[0], c);
        if (agent_drm_parse_fdinfo(b, c) == 0)
            agent_drm_sample_add(&s[1], c);
        s[0].time_ns = 1000000000;
        s[1].time_ns = 2000000000;
        agent_drm_stats(&s[0], &s[1], st);
        agent_drm_stats(NULL, &s[0], st);
    }
    free(s);
    free(st);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text, *second, buf[4096], host[256];
    AgentHostNetIf ifs[AGENT_HOST_MAX_IFS];
    AgentHostPsi psi;
    AgentHostDisk disk;
    uint64_t u, v;
    int port, listen;

    if (size < 1 || !(text = malloc(size)))
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    second = strchr(text, '\f');
    if (second)
        *second++ = 0;
    else
        second = text + strlen(text);

    switch (data[0] % 13) {
    case 0:  agent_host_parse_stat(text, buf, &u); break;
    case 1:  agent_host_parse_status(text, &u, &v); break;
    case 2:  agent_host_parse_psi(text, &psi); break;
    case 3:  agent_host_parse_diskstats(text, 8, 0, &disk);
             agent_host_parse_diskstats(text, 259, 1, &disk); break;
    case 4:  agent_host_parse_netdev(text, ifs, AGENT_HOST_MAX_IFS);
             agent_host_parse_netdev(text, ifs, 2); break;
    case 5:  agent_mem_parse_value(text, &u); break;
    case 6:  agent_mem_cgroup_dir(text, second, buf, sizeof(buf));
             agent_mem_cgroup_dir(text, second, buf, 8); break;
    case 7:  drm(text, second); break;
    case 8:  agent_disk_url_dir(text, buf, sizeof(buf));
             agent_disk_url_dir(text, buf, 4); break;
    case 9:  agent_net_url_endpoint(text, NULL, host, sizeof(host), &port, &listen);
             agent_net_url_endpoint(text, NULL, host, 4, &port, &listen); break;
    case 10: agent_nvml_normalize_bus_id(text, buf); break;
    case 11: sockdiag_kernel_has_snd_wnd(text); break;
    case 12: sockdiag_parse_fd_link(text, &u);
             agent_drm_engine_class(text); break;
    }
    free(text);
    return 0;
}
