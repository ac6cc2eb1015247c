/*
 * tq.h: the bounded queue between two stage threads.
 *
 * Stages of the data plane talk only through these queues (FFmpeg 7's
 * ThreadQueue design, on 5.1's primitives): a fixed ring of items, a mutex
 * and two condition variables. A queue has one receiver and one or more
 * senders (an output's queue is fed by every encoder it carries).
 *
 * Ending, from either side, without a central coordinator:
 *   - each sender calls tq_send_done() once; when all have and the ring is
 *     empty, tq_recv() returns AVERROR_EOF;
 *   - the receiver calls tq_recv_done() when it wants nothing more (it
 *     failed, or reached the job's duration): queued items are freed and
 *     every later tq_send() returns AVERROR_EOF, so senders learn that this
 *     branch is gone and stop feeding it. A stage whose every downstream
 *     queue is closed closes its own input: a dead branch unwinds upstream.
 *
 * Items carry a kind, an index (which of the receiver's inputs it belongs
 * to) and a pointer whose type follows from the kind. Ownership of the
 * pointer moves with the item: consumed by tq_send() on success, untouched
 * on failure; tq_recv() hands it to the caller.
 */
#ifndef HS_TQ_H
#define HS_TQ_H

#include <stdint.h>

enum TqKind {
    TQ_FRAME = 1,   /* AVFrame * */
    TQ_PACKET,      /* AVPacket * (pkt->time_base set) */
    TQ_PARAMS,      /* StreamParams * (params.h): what follows looks like this */
    TQ_END,         /* ptr NULL: input `index` ended (or never started, when
                       no TQ_PARAMS came before it) */
};

typedef struct ThreadQueue ThreadQueue;

/* capacity: items in the ring (>= 1); nb_senders: tq_send_done() calls that
 * end the queue (>= 1). Returns NULL on ENOMEM. */
ThreadQueue *tq_alloc(int capacity, int nb_senders);

/* Frees the queue and any item still in it. Accepts NULL, sets *q NULL. */
void tq_free(ThreadQueue **q);

/* Blocks while the ring is full. Returns 0 (item consumed), or AVERROR_EOF
 * when the receiver is done (item untouched). */
int tq_send(ThreadQueue *q, int kind, int index, void *ptr);

/* As tq_send, but gives up after timeout_us with AVERROR(ETIMEDOUT). */
int tq_send_timeout(ThreadQueue *q, int kind, int index, void *ptr, int64_t timeout_us);

/* One sender is done. Idempotence is the caller's business: call it once per
 * sender. */
void tq_send_done(ThreadQueue *q);

/* Waits up to timeout_us (< 0: forever) for an item. Returns 0 and fills
 * kind/index/ptr, AVERROR_EOF when every sender is done and nothing is left,
 * AVERROR(EAGAIN) on timeout. */
int tq_recv(ThreadQueue *q, int *kind, int *index, void **ptr, int64_t timeout_us);

/* The receiver wants nothing more: frees what is queued, wakes senders. */
void tq_recv_done(ThreadQueue *q);

/* Has the receiver called tq_recv_done()? */
int tq_receiver_done(ThreadQueue *q);

/* Items queued now (a gauge for the health agents). */
int tq_depth(ThreadQueue *q);

/* Frees an item's pointer according to its kind. */
void tq_item_free(int kind, void *ptr);

#endif
