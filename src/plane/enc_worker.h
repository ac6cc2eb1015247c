/*
 * enc_worker.h: an encoder's libav calls, made on a thread of their own so
 * that the encoder stage can give up on one that hangs.
 *
 * A call into an encoder (upload to the device, avcodec_send_frame, the
 * packets it gives back) can block forever inside a driver or a library:
 * no interrupt callback reaches it. The stage hands each call to its
 * worker and waits with a deadline. When the deadline passes, the worker
 * is abandoned with the encoder it was using (the stage never touches
 * either again, so nothing races with the call if it ever returns: the
 * worker then frees both and ends), and the stage fails over to its
 * standby on a fresh worker, resending the frames not passed on.
 *
 * A call costs a hand-over between two threads (a mutex and two condition
 * signals, some microseconds), small against encoding a frame.
 *
 * Calls may also be posted without waiting (enc_worker_post): a hot
 * standby encodes the frames the encoder in use gets, on its own worker,
 * in parallel with it, and the stage takes its packets when it likes
 * (enc_worker_take). The calls run in the order posted; the first that
 * fails drops the ones queued behind it, and its error is what the next
 * take returns.
 */
#ifndef HS_ENC_WORKER_H
#define HS_ENC_WORKER_H

#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "plane/codec.h"

typedef struct EncWorker EncWorker;

/* name: for the thread ("news/enc:720p"), so that its CPU is counted for
 * the component. Returns 0 or a negative AVERROR. */
int enc_worker_alloc(EncWorker **pw, const char *name);

/* Ends the thread and frees the worker (NULL accepted). Never called on an
 * abandoned worker (enc_worker_call sets *pw to NULL then). */
void enc_worker_free(EncWorker **pw);

/*
 * Sends f (consumed; NULL flushes) to ci's encoder, uploading it to the
 * device first when ci->hw_upload, and takes every packet the encoder has
 * then: *pkts (an array the caller frees with enc_worker_free_packets) and
 * *nb. hang: the call blocks forever inside, as a wedged driver would (the
 * job's `fault: hang`).
 *
 * Waits at most deadline_us. Returns what avcodec_send_frame or
 * avcodec_receive_packet returned (0, or a negative AVERROR; packets taken
 * before an error are returned all the same), or AVERROR(ETIMEDOUT) when
 * the call did not return in time: the worker then owns ci's contents
 * (ci is zeroed) and *pw is NULL.
 */
int enc_worker_call(EncWorker **pw, CodecInst *ci, AVFrame *f, int hang, int64_t deadline_us,
                    AVPacket ***pkts, int *nb);

/* Calls a worker queues at most: enc_worker_post answers AVERROR(EAGAIN)
 * beyond. */
#define ENC_WORKER_QUEUE 16

/*
 * Queues the call of f (consumed on success, untouched on failure; NULL
 * flushes) for ci's encoder and returns at once. Every call queued at once
 * is for the same encoder: ci is what the worker uses (its contents are
 * copied; the caller keeps ci and does not close it before the calls are
 * taken). Returns 0, or AVERROR(EAGAIN) when ENC_WORKER_QUEUE calls wait.
 */
int enc_worker_post(EncWorker *w, const CodecInst *ci, AVFrame *f, int hang);

/*
 * Takes the packets of the calls done so far (*pkts, *nb, as
 * enc_worker_call), after waiting until at most max_left posted calls are
 * not done (0: all done). Returns 0, the first error of a call since the
 * last take (the calls queued behind it were dropped), or
 * AVERROR(ETIMEDOUT) when the call in progress has run deadline_us without
 * returning: the worker is then abandoned with ci, as in enc_worker_call.
 * *busy_us (may be NULL): time the worker spent in calls since the
 * previous take.
 */
int enc_worker_take(EncWorker **pw, CodecInst *ci, int max_left, int64_t deadline_us,
                    AVPacket ***pkts, int *nb, int64_t *busy_us);

void enc_worker_free_packets(AVPacket ***pkts, int nb);

#endif
