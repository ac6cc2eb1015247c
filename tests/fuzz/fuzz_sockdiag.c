/*
 * fuzz_sockdiag.c: the netlink parser of the network agent
 * (sockdiag_parse) on any answer. The first byte chooses how it reads:
 * bit 0 a kernel with tcpi_snd_wnd, bit 1 keep only two inodes, bit 2
 * room for 2 sockets (the rest counted as over); the rest is one recv's
 * buffer, copied to an aligned one as the kernel's is. The request's
 * sequence number is the first message's, so that the messages are read
 * rather than skipped.
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "core/sockdiag.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(AV_LOG_QUIET);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t inodes[] = { 1, 4242 };
    SockDiagTcp out[8];
    SockDiagParse p = { 0 };
    int nb = 0, over = 0;
    uint32_t *buf;

    if (size < 1)
        return 0;
    /* uint32_t: netlink messages are 4-byte aligned */
    if (!(buf = malloc(size - 1 + 4)))
        return 0;
    memcpy(buf, data + 1, size - 1);
    if (size - 1 >= 16)
        memcpy(&p.seq, (const uint8_t *)buf + 8, 4);   /* nlmsg_seq */
    p.kernel_snd_wnd = data[0] & 1;
    if (data[0] & 2) {
        p.inodes = inodes;
        p.nb_inodes = 2;
    }
    sockdiag_parse((const uint8_t *)buf, size - 1, &p, out, data[0] & 4 ? 2 : 8, &nb, &over);
    free(buf);
    return 0;
}
