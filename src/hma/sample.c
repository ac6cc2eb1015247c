/*
 * sample.c: the metric catalogue and the snapshot container; see sample.h.
 */
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "hma/sample.h"

#define G METRIC_GAUGE
#define C METRIC_COUNTER

static const MetricDef host_metrics[HM_NB] = {
    [HM_CPU_SECONDS]     = { "hotspare_process_cpu_seconds_total", C, "CPU time of the hotspare process" },
    [HM_CPU_RATIO]       = { "hotspare_process_cpu_ratio", G, "CPU used over the last tick, in cores" },
    [HM_RSS_BYTES]       = { "hotspare_process_resident_memory_bytes", G, "resident set size of the process" },
    [HM_PSI_CPU_SOME]    = { "hotspare_host_pressure_cpu_some_ratio", G, "share of time some task waited for CPU (PSI avg10)" },
    [HM_PSI_MEMORY_SOME] = { "hotspare_host_pressure_memory_some_ratio", G, "share of time some task stalled on memory (PSI avg10)" },
    [HM_PSI_MEMORY_FULL] = { "hotspare_host_pressure_memory_full_ratio", G, "share of time all tasks stalled on memory (PSI avg10)" },
    [HM_PSI_IO_SOME]     = { "hotspare_host_pressure_io_some_ratio", G, "share of time some task stalled on I/O (PSI avg10)" },
    [HM_PSI_IO_FULL]     = { "hotspare_host_pressure_io_full_ratio", G, "share of time all tasks stalled on I/O (PSI avg10)" },
    [HM_DISK_READ_BYTES] = { "hotspare_host_disk_read_bytes_total", C, "bytes read from the disk that holds the outputs" },
    [HM_DISK_WRITE_BYTES]= { "hotspare_host_disk_written_bytes_total", C, "bytes written to the disk that holds the outputs" },
    [HM_DISK_BUSY_RATIO] = { "hotspare_host_disk_busy_ratio", G, "share of the last tick the disk was busy" },
    [HM_NET_RX_BYTES]    = { "hotspare_host_network_receive_bytes_total", C, "bytes received on all interfaces" },
    [HM_NET_TX_BYTES]    = { "hotspare_host_network_transmit_bytes_total", C, "bytes sent on all interfaces" },
    [HM_RSS_GROWTH]      = { "hotspare_process_resident_memory_growth_bytes_per_second", G, "growth of the resident set size: least-squares slope over the last 30 ticks" },
    [HM_CGROUP_MEMORY_CURRENT] = { "hotspare_process_cgroup_memory_current_bytes", G, "memory charged to the process's cgroup (v2 memory.current, v1 memory.usage_in_bytes)" },
    [HM_CGROUP_MEMORY_MAX]     = { "hotspare_process_cgroup_memory_max_bytes", G, "the cgroup's hard memory limit (v2 memory.max, v1 memory.limit_in_bytes); absent when unlimited" },
    [HM_CGROUP_MEMORY_HIGH]    = { "hotspare_process_cgroup_memory_high_bytes", G, "the cgroup's throttling limit (v2 memory.high; v1 has none); absent when unlimited" },
    [HM_CGROUP_MEMORY_TIME_TO_LIMIT] = { "hotspare_process_cgroup_memory_time_to_limit_seconds", G, "time until memory.current reaches the lower of memory.high and memory.max at its growth over the last 30 ticks; absent when not growing or unlimited" },
    [HM_STORE_FS_FREE]   = { "hotspare_host_store_filesystem_free_bytes", G, "bytes free (for unprivileged writers) on the data store's filesystem" },
    [HM_STORE_FS_SIZE]   = { "hotspare_host_store_filesystem_size_bytes", G, "size of the data store's filesystem" },
    [HM_STORE_FS_FILL_RATE] = { "hotspare_host_store_filesystem_fill_rate_bytes_per_second", G, "growth of the used bytes of the data store's filesystem: least-squares slope over the last 30 ticks" },
    [HM_STORE_FS_TIME_TO_FULL] = { "hotspare_host_store_filesystem_time_to_full_seconds", G, "time until the data store's filesystem is full at its fill rate; absent when not filling" },
    [HM_HEAP_BYTES]      = { "hotspare_process_heap_bytes", G, "bytes the process has allocated and not freed (malloc's count: what a leak grows, unlike the resident set, which also holds the allocator's free pages)" },
    [HM_HOST_RISK]       = { "hotspare_host_risk", G, "the host's risk, 0..1: the highest of its pressure and exhaustion rules (PSI, memory limit, the data store's filesystem); a fleet node at 0.8 moves its streams to other hosts" },
};

static const MetricDef gpu_metrics[GM_NB] = {
    [GM_UP]                  = { "hotspare_gpu_up", G, "1 while the GPU answers, 0 once it is lost" },
    [GM_ENCODER_UTIL]        = { "hotspare_gpu_encoder_utilization_ratio", G, "video encoder utilisation" },
    [GM_DECODER_UTIL]        = { "hotspare_gpu_decoder_utilization_ratio", G, "video decoder utilisation" },
    [GM_ENCODER_CAPACITY]    = { "hotspare_gpu_encoder_capacity_ratio", G, "share of the encoder's capacity left (H.264)" },
    [GM_ENCODER_SESSIONS]    = { "hotspare_gpu_encoder_sessions", G, "encoder sessions on the whole GPU" },
    [GM_OWN_SESSIONS]        = { "hotspare_gpu_own_encoder_sessions", G, "encoder sessions of this process" },
    [GM_OWN_SESSION_FPS]     = { "hotspare_gpu_own_encoder_fps", G, "mean frame rate of this process's encoder sessions" },
    [GM_OWN_SESSION_LATENCY] = { "hotspare_gpu_own_encoder_latency_seconds", G, "mean latency of this process's encoder sessions" },
    [GM_GPU_UTIL]            = { "hotspare_gpu_utilization_ratio", G, "GPU utilisation" },
    [GM_MEMORY_USED_BYTES]   = { "hotspare_gpu_memory_used_bytes", G, "GPU memory in use" },
    [GM_MEMORY_TOTAL_BYTES]  = { "hotspare_gpu_memory_total_bytes", G, "GPU memory in all" },
    [GM_TEMPERATURE]         = { "hotspare_gpu_temperature_celsius", G, "GPU core temperature" },
    [GM_POWER_WATTS]         = { "hotspare_gpu_power_watts", G, "GPU power draw" },
    [GM_CLOCK_REASONS]       = { "hotspare_gpu_clock_event_reasons", G, "bitmask of why the clocks are held down (NVML)" },
    [GM_XID_ERRORS]          = { "hotspare_gpu_xid_errors_total", C, "critical XID errors reported by the driver" },
    [GM_VIDEO_ENGINE_BUSY]   = { "hotspare_gpu_video_engine_busy_ratio", G, "video engine busy share of this process (DRM fdinfo)" },
};

static const MetricDef ingest_metrics[IM_NB] = {
    [IM_UP]               = { "hotspare_ingest_up", G, "1 while the input is being read" },
    [IM_PACKETS]          = { "hotspare_ingest_packets_total", C, "packets read from the input" },
    [IM_BYTES]            = { "hotspare_ingest_bytes_total", C, "bytes read from the input" },
    [IM_THROUGHPUT]       = { "hotspare_ingest_throughput_bytes_per_second", G, "input rate over the last tick" },
    [IM_READ_LATENCY]     = { "hotspare_ingest_read_latency_seconds", G, "mean time a read waited for a packet over the last tick" },
    [IM_JITTER]           = { "hotspare_ingest_jitter_seconds", G, "standard deviation of the gaps between packets over the last tick" },
    [IM_LAST_PACKET_AGE]  = { "hotspare_ingest_last_packet_age_seconds", G, "time since the last packet" },
    [IM_DISCONTINUITIES]  = { "hotspare_ingest_discontinuities_total", C, "timestamp jumps absorbed" },
    [IM_ERRORS]           = { "hotspare_ingest_errors_total", C, "demuxing and decoding errors" },
    [IM_CPU_SECONDS]      = { "hotspare_ingest_cpu_seconds_total", C, "CPU time of the ingest and decoder threads" },
    [IM_FAILURE_RISK]     = { "hotspare_ingest_failure_risk", G, "failure risk: P(it fails within the model's horizon) combined with how far it strays from its own past (predictor.h)" },
    [IM_TCP_CONNECTIONS]  = { "hotspare_ingest_tcp_connections", G, "TCP connections to the source the network agent found" },
    [IM_RTT]              = { "hotspare_ingest_rtt_seconds", G, "smoothed round-trip time to the source (tcp_info, of its connection with the most bytes waiting)" },
    [IM_RTT_VAR]          = { "hotspare_ingest_rtt_variance_seconds", G, "round-trip time variation (tcp_info rttvar)" },
    [IM_RETRANSMITS]      = { "hotspare_ingest_retransmits_total", C, "segments retransmitted to the source" },
    [IM_LOST]             = { "hotspare_ingest_lost_packets", G, "segments presumed lost now (tcp_info lost)" },
    [IM_UNACKED_BYTES]    = { "hotspare_ingest_unacked_bytes", G, "bytes sent to the source and not acknowledged" },
    [IM_NOTSENT_BYTES]    = { "hotspare_ingest_notsent_bytes", G, "bytes written for the source and not sent yet" },
    [IM_PEER_WINDOW]      = { "hotspare_ingest_peer_window_bytes", G, "the source's advertised receive window (Linux 6.2 and later)" },
    [IM_DELIVERY_RATE]    = { "hotspare_ingest_delivery_rate_bytes_per_second", G, "the kernel's estimate of the rate delivered to the source" },
    [IM_LAST_ACK_AGE]     = { "hotspare_ingest_last_ack_age_seconds", G, "time since the source last acknowledged anything" },
    [IM_LAST_DATA_RECV_AGE] = { "hotspare_ingest_last_data_received_age_seconds", G, "time since data last came from the source" },
    [IM_LAST_DATA_SENT_AGE] = { "hotspare_ingest_last_data_sent_age_seconds", G, "time since data last went to the source" },
    [IM_RECV_QUEUE_BYTES] = { "hotspare_ingest_receive_queue_bytes", G, "bytes received from the source and not read yet (grows when hotspare is the slow side)" },
};

static const MetricDef encoder_metrics[EM_NB] = {
    [EM_UP]           = { "hotspare_encoder_up", G, "1 while the encoder is open and encoding" },
    [EM_FRAMES_IN]    = { "hotspare_encoder_frames_in_total", C, "frames sent to the encoder" },
    [EM_FRAMES_OUT]   = { "hotspare_encoder_frames_out_total", C, "packets the encoder produced" },
    [EM_BYTES_OUT]    = { "hotspare_encoder_bytes_total", C, "bytes the encoder produced" },
    [EM_FPS]          = { "hotspare_encoder_fps", G, "frames encoded per second over the last tick" },
    [EM_TARGET_FPS]   = { "hotspare_encoder_target_fps", G, "the rendition's frame rate" },
    [EM_LATENCY_P50]  = { "hotspare_encoder_latency_p50_seconds", G, "median time from frame sent to packet out over the last tick" },
    [EM_LATENCY_P99]  = { "hotspare_encoder_latency_p99_seconds", G, "99th percentile of the time from frame sent to packet out" },
    [EM_QUEUE_DEPTH]  = { "hotspare_encoder_queue_frames", G, "frames waiting for the encoder" },
    [EM_ERRORS]       = { "hotspare_encoder_errors_total", C, "encoding errors" },
    [EM_DROPPED]      = { "hotspare_encoder_dropped_frames_total", C, "frames dropped before the encoder" },
    [EM_QP]           = { "hotspare_encoder_qp", G, "mean quantiser of the last tick's packets" },
    [EM_CPU_SECONDS]  = { "hotspare_encoder_cpu_seconds_total", C, "CPU time of the encoder thread" },
    [EM_FAILURE_RISK] = { "hotspare_encoder_failure_risk", G, "failure risk: P(it fails within the model's horizon) combined with how far it strays from its own past (predictor.h)" },
    [EM_STANDBY_FRAMES] = { "hotspare_encoder_standby_frames_total", C, "frames a hot standby encoded beside the encoder in use (standby_mode: hot): the cost of hot" },
    [EM_STANDBY_BUSY_SECONDS] = { "hotspare_encoder_standby_busy_seconds_total", C, "wall time of a hot standby's encode calls (its CPU is in hotspare_encoder_cpu_seconds_total: its threads carry the encoder's name)" },
    [EM_BUDGET_USED] = { "hotspare_encoder_latency_budget_used_ratio", G, "how far behind real time the latest frame it took was, over the stream's latency budget (at 1 the encoder has failed); absent without a budget" },
    [EM_BUSY_SECONDS] = { "hotspare_encoder_busy_seconds_total", C, "time the encoder's thread spent on frames (encoding them, handing the packets on), not waiting for one: near 1 s a second it cannot keep up" },
};

static const MetricDef output_metrics[OM_NB] = {
    [OM_UP]                = { "hotspare_output_up", G, "1 once the output is open, 0 when it failed" },
    [OM_PACKETS]           = { "hotspare_output_packets_total", C, "packets written" },
    [OM_BYTES]             = { "hotspare_output_bytes_total", C, "bytes written (payload)" },
    [OM_THROUGHPUT]        = { "hotspare_output_throughput_bytes_per_second", G, "output rate over the last tick" },
    [OM_WRITE_LATENCY]     = { "hotspare_output_write_latency_seconds", G, "mean time of a write over the last tick" },
    [OM_WRITE_LATENCY_MAX] = { "hotspare_output_write_latency_max_seconds", G, "longest write of the last tick" },
    [OM_QUEUE_DEPTH]       = { "hotspare_output_queue_packets", G, "packets waiting for the muxer" },
    [OM_ERRORS]            = { "hotspare_output_errors_total", C, "write errors" },
    [OM_RECONNECTS]        = { "hotspare_output_reconnects_total", C, "times the output was opened again" },
    [OM_CPU_SECONDS]       = { "hotspare_output_cpu_seconds_total", C, "CPU time of the muxer thread" },
    [OM_FAILURE_RISK]      = { "hotspare_output_failure_risk", G, "failure risk: P(it fails within the model's horizon) combined with how far it strays from its own past (predictor.h)" },
    [OM_FS_FREE]           = { "hotspare_output_filesystem_free_bytes", G, "bytes free (for unprivileged writers) on the filesystem the output writes to" },
    [OM_FS_SIZE]           = { "hotspare_output_filesystem_size_bytes", G, "size of the filesystem the output writes to" },
    [OM_FS_FILL_RATE]      = { "hotspare_output_filesystem_fill_rate_bytes_per_second", G, "growth of the used bytes of the output's filesystem (all writers): least-squares slope over the last 30 ticks" },
    [OM_FS_TIME_TO_FULL]   = { "hotspare_output_filesystem_time_to_full_seconds", G, "time until the output's filesystem is full at its fill rate; absent when not filling" },
    [OM_BUDGET_USED]       = { "hotspare_output_latency_budget_used_ratio", G, "how long the latest packet it wrote had waited for it, over the stream's latency budget (at 1 the output has failed); absent without a budget" },
    [OM_BUSY_SECONDS]      = { "hotspare_output_busy_seconds_total", C, "time the output's threads spent on packets (writing them), not waiting for one: near 1 s a second it cannot keep up" },
    [OM_FRAMES_LOST]       = { "hotspare_output_frames_lost_total", C, "video frames of the output's timeline that no destination wrote (a gap across a switch, frames dropped before or in it), all renditions" },
};

static const MetricDef edge_metrics[XM_NB] = {
    [XM_UP]              = { "hotspare_edge_up", G, "1 while the peer takes what is sent" },
    [XM_REQUEST_LATENCY] = { "hotspare_edge_request_latency_seconds", G, "mean time of a request (HTTP) or write (RTMP) over the last tick" },
    [XM_REQUESTS]        = { "hotspare_edge_requests_total", C, "requests made to the peer" },
    [XM_STATUS_2XX]      = { "hotspare_edge_responses_2xx_total", C, "HTTP responses 2xx" },
    [XM_STATUS_3XX]      = { "hotspare_edge_responses_3xx_total", C, "HTTP responses 3xx" },
    [XM_STATUS_4XX]      = { "hotspare_edge_responses_4xx_total", C, "HTTP responses 4xx" },
    [XM_STATUS_5XX]      = { "hotspare_edge_responses_5xx_total", C, "HTTP responses 5xx" },
    [XM_THROUGHPUT]      = { "hotspare_edge_throughput_bytes_per_second", G, "rate delivered to the peer over the last tick" },
    [XM_TCP_CONNECTIONS] = { "hotspare_edge_tcp_connections", G, "TCP connections to the peer the network agent found" },
    [XM_RTT]             = { "hotspare_edge_rtt_seconds", G, "smoothed round-trip time to the peer (tcp_info, of its connection with the most bytes waiting)" },
    [XM_RTT_VAR]         = { "hotspare_edge_rtt_variance_seconds", G, "round-trip time variation (tcp_info rttvar)" },
    [XM_RETRANSMITS]     = { "hotspare_edge_retransmits_total", C, "segments retransmitted to the peer" },
    [XM_LOST]            = { "hotspare_edge_lost_packets", G, "segments presumed lost now (tcp_info lost)" },
    [XM_UNACKED_BYTES]   = { "hotspare_edge_unacked_bytes", G, "bytes sent to the peer and not acknowledged" },
    [XM_NOTSENT_BYTES]   = { "hotspare_edge_notsent_bytes", G, "bytes written for the peer and not sent yet (grows when its window is closed)" },
    [XM_PEER_WINDOW]     = { "hotspare_edge_peer_window_bytes", G, "the peer's advertised receive window (Linux 6.2 and later)" },
    [XM_DELIVERY_RATE]   = { "hotspare_edge_delivery_rate_bytes_per_second", G, "the kernel's estimate of the rate delivered to the peer" },
    [XM_LAST_ACK_AGE]    = { "hotspare_edge_last_ack_age_seconds", G, "time since the peer last acknowledged anything" },
    [XM_LAST_DATA_RECV_AGE] = { "hotspare_edge_last_data_received_age_seconds", G, "time since data last came from the peer" },
    [XM_LAST_DATA_SENT_AGE] = { "hotspare_edge_last_data_sent_age_seconds", G, "time since data last went to the peer (grows while its window is closed)" },
    [XM_RECV_QUEUE_BYTES]   = { "hotspare_edge_receive_queue_bytes", G, "bytes received from the peer and not read yet" },
    [XM_SEGMENT_LATENCY]  = { "hotspare_edge_segment_latency_seconds", G, "CDN pathway: time the synthetic viewer took to fetch the head of the newest segment" },
    [XM_SEGMENT_DURATION] = { "hotspare_edge_segment_duration_seconds", G, "CDN pathway: the segment duration its playlist gives" },
    [XM_FRESHNESS]        = { "hotspare_edge_staleness_seconds", G, "CDN pathway: how far the newest segment it serves is behind the newest one uploaded" },
    [XM_PROBE_FAILURES]   = { "hotspare_edge_probe_failures_total", C, "CDN pathway: synthetic viewer probes that failed" },
    [XM_FAILURE_RISK]     = { "hotspare_edge_failure_risk", G, "CDN pathway: the risk steering acts on (0..1)" },
    [XM_STEER_PRIORITY]   = { "hotspare_edge_steering_priority", G, "CDN pathway: its place in the steering manifest's PATHWAY-PRIORITY, 1 first" },
    [XM_STEER_REQUESTS]   = { "hotspare_edge_steering_requests_total", C, "CDN pathway: steering manifest requests from players using it" },
    [XM_STEER_PLAYERS]    = { "hotspare_edge_steering_players", G, "CDN pathway: players using it (their requests over the last two TTLs, halved)" },
    [XM_STEER_THROUGHPUT] = { "hotspare_edge_steering_throughput_bits_per_second", G, "CDN pathway: mean throughput its players report" },
};

#undef G
#undef C

const CompKindDef sample_kinds[COMP_NB_KINDS] = {
    [COMP_HOST]    = { "host",    HM_NB, host_metrics },
    [COMP_GPU]     = { "gpu",     GM_NB, gpu_metrics },
    [COMP_INGEST]  = { "ingest",  IM_NB, ingest_metrics },
    [COMP_ENCODER] = { "encoder", EM_NB, encoder_metrics },
    [COMP_OUTPUT]  = { "output",  OM_NB, output_metrics },
    [COMP_EDGE]    = { "edge",    XM_NB, edge_metrics },
};

/* Every kind fits in SampleComp.v and .present. */
typedef char check_host[HM_NB <= SAMPLE_MAX_METRICS ? 1 : -1];
typedef char check_gpu[GM_NB <= SAMPLE_MAX_METRICS ? 1 : -1];
typedef char check_ingest[IM_NB <= SAMPLE_MAX_METRICS ? 1 : -1];
typedef char check_encoder[EM_NB <= SAMPLE_MAX_METRICS ? 1 : -1];
typedef char check_output[OM_NB <= SAMPLE_MAX_METRICS ? 1 : -1];
typedef char check_edge[XM_NB <= SAMPLE_MAX_METRICS ? 1 : -1];

void sample_reset(Sample *s, int64_t time_us, int64_t tick)
{
    s->time_us = time_us;
    s->tick = tick;
    s->nb_comps = 0;
}

SampleComp *sample_add_comp(Sample *s, CompKind kind, const char *stream,
                            const char *name, int backup)
{
    SampleComp *c;

    if (s->nb_comps == s->nb_alloc) {
        int n = s->nb_alloc ? s->nb_alloc * 2 : 64;
        SampleComp *nc = av_realloc_array(s->comps, n, sizeof(*nc));
        if (!nc)
            return NULL;
        s->comps = nc;
        s->nb_alloc = n;
    }
    c = &s->comps[s->nb_comps++];
    c->kind = kind;
    av_strlcpy(c->stream, stream ? stream : "", sizeof(c->stream));
    av_strlcpy(c->name, name, sizeof(c->name));
    c->backup = backup;
    c->present = 0;
    return c;
}

void sample_free(Sample *s)
{
    av_freep(&s->comps);
    s->nb_comps = s->nb_alloc = 0;
}

const MetricDef *sample_metric(CompKind kind, int metric)
{
    if ((unsigned)kind >= COMP_NB_KINDS || metric < 0 || metric >= sample_kinds[kind].nb_metrics)
        return NULL;
    return &sample_kinds[kind].metrics[metric];
}

int sample_kind_by_name(const char *name)
{
    for (int k = 0; k < COMP_NB_KINDS; k++)
        if (!strcmp(sample_kinds[k].name, name))
            return k;
    return -1;
}
