/* bnnkit C runtime: a persistent thread pool that runs one model on several cores.
 *
 * The threads are created once (bnn_pool_create) and wait between runs; a
 * run (bnn_pool_run) wakes them once, every thread then walks all nodes of
 * the model, computing its own share of each node (a static split the code
 * generator computed, see BNN_SHARE), with a barrier between nodes. The
 * barrier spins, then yields, then sleeps: microseconds when the shares are
 * balanced, no busy cores between runs. A pool holds no global state, so two
 * pools (or two models on two pools) work in one process; one pool runs one
 * job at a time. No allocation after bnn_pool_create.
 *
 * Built with BNN_NO_THREADS (or without POSIX threads) the pool has only the
 * calling thread: bnn_pool_create(1) works, larger counts return NULL.
 */
#ifndef BNN_POOL_H
#define BNN_POOL_H

#include <stdint.h>

/* Largest thread count; the generated splits cover 1..BNN_MAX_THREADS. */
#define BNN_MAX_THREADS 8

/* Thread `thread` of `threads`'s share [share[0], share[1]) of a node, from the
 * node's split table: for n = 1..BNN_MAX_THREADS, the n + 1 boundaries of its
 * n shares, one n after the other. */
#define BNN_SHARE(split, thread, threads) \
    ((split) + ((threads) - 1) * ((threads) + 2) / 2 + (thread))

struct bnn_pool;

/* The work of one thread in a run: thread is 0 (the caller) .. threads - 1. */
typedef void (*bnn_pool_job)(void *ctx, struct bnn_pool *pool, int thread, int threads);

/* A pool of `threads` threads (the caller is one of them), or NULL when the
 * count is outside 1..BNN_MAX_THREADS, this build has no threads, or the
 * system refuses a thread or memory. */
struct bnn_pool *bnn_pool_create(int threads);
void bnn_pool_destroy(struct bnn_pool *pool);
int bnn_pool_threads(const struct bnn_pool *pool);

/* Run job(ctx, pool, t, threads) on every thread t at once; returns when all
 * have finished. */
void bnn_pool_run(struct bnn_pool *pool, bnn_pool_job job, void *ctx);

/* Called by every thread of a running job: returns once all have called it. */
void bnn_pool_barrier(struct bnn_pool *pool);

#endif /* BNN_POOL_H */
