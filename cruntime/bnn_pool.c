/* The thread pool of bnn_pool.h: POSIX threads, a counting barrier on
 * GCC/Clang atomics. */
#define _POSIX_C_SOURCE 200112L
#include <stdlib.h>

#include "bnn_pool.h"

#if !defined(BNN_NO_THREADS) && (defined(__unix__) || defined(__APPLE__)) && \
    (defined(__GNUC__) || defined(__clang__))
#define BNN_POOL_THREADS 1
#else
#define BNN_POOL_THREADS 0
#endif

#if BNN_POOL_THREADS

#include <pthread.h>
#include <sched.h>

/* A waiting thread first polls (the other threads are usually microseconds
 * away), then gives its core away a few times, then sleeps until woken. */
#define SPINS 2000
#define YIELDS 50

struct worker {
    struct bnn_pool *pool;
    int index;
    pthread_t thread;
};

struct bnn_pool {
    int threads;
    /* barrier: arrivals in the current round, rounds completed, sleeping waiters */
    unsigned arrived;
    char pad0[64];
    unsigned round;
    char pad1[64];
    unsigned sleepers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* the current job, set by the caller before the start barrier */
    bnn_pool_job job;
    void *ctx;
    int stop;
    struct worker workers[BNN_MAX_THREADS - 1];
};

static void cpu_relax(void)
{
#if defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
    __asm__ __volatile__("yield" ::: "memory");
#elif defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

static int round_is(struct bnn_pool *pool, unsigned round)
{
    return __atomic_load_n(&pool->round, __ATOMIC_ACQUIRE) == round;
}

static void wait_round(struct bnn_pool *pool, unsigned round)
{
    int i;

    for (i = 0; i < SPINS; i++) {
        if (!round_is(pool, round))
            return;
        cpu_relax();
    }
    for (i = 0; i < YIELDS; i++) {
        if (!round_is(pool, round))
            return;
        sched_yield();
    }
    pthread_mutex_lock(&pool->lock);
    /* sleepers is raised before round is read again and the last arriver
     * bumps round before it reads sleepers (both sequentially consistent):
     * one of the two sees the other, so no wake-up is lost */
    __atomic_add_fetch(&pool->sleepers, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&pool->round, __ATOMIC_SEQ_CST) == round)
        pthread_cond_wait(&pool->wake, &pool->lock);
    __atomic_sub_fetch(&pool->sleepers, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&pool->lock);
}

void bnn_pool_barrier(struct bnn_pool *pool)
{
    /* round cannot advance before this thread arrives, so this read is the
     * current round */
    const unsigned round = __atomic_load_n(&pool->round, __ATOMIC_ACQUIRE);

    const unsigned members = (unsigned)__atomic_load_n(&pool->threads, __ATOMIC_RELAXED);

    if (__atomic_add_fetch(&pool->arrived, 1, __ATOMIC_ACQ_REL) != members) {
        wait_round(pool, round);
        return;
    }
    __atomic_store_n(&pool->arrived, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->round, round + 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&pool->sleepers, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
}

static void *worker_main(void *arg)
{
    const struct worker *w = arg;
    struct bnn_pool *pool = w->pool;

    for (;;) {
        bnn_pool_barrier(pool); /* start of a run */
        if (pool->stop)
            return NULL;
        pool->job(pool->ctx, pool, w->index, pool->threads);
        bnn_pool_barrier(pool); /* end of the run */
    }
}

static void stop_workers(struct bnn_pool *pool, int started)
{
    int i;

    pool->stop = 1;
    /* the started workers and the caller meet at the start barrier (a worker
     * still starting reads the count as it arrives) */
    __atomic_store_n(&pool->threads, started + 1, __ATOMIC_RELAXED);
    bnn_pool_barrier(pool);
    for (i = 0; i < started; i++)
        pthread_join(pool->workers[i].thread, NULL);
}

struct bnn_pool *bnn_pool_create(int threads)
{
    struct bnn_pool *pool;
    int i;

    if (threads < 1 || threads > BNN_MAX_THREADS)
        return NULL;
    pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return NULL;
    pool->threads = threads;
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        return NULL;
    }
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return NULL;
    }
    for (i = 0; i < threads - 1; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].index = i + 1;
        if (pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]) !=
            0) {
            stop_workers(pool, i);
            pool->threads = 1;
            bnn_pool_destroy(pool);
            return NULL;
        }
    }
    return pool;
}

void bnn_pool_destroy(struct bnn_pool *pool)
{
    if (pool == NULL)
        return;
    if (pool->threads > 1)
        stop_workers(pool, pool->threads - 1);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

void bnn_pool_run(struct bnn_pool *pool, bnn_pool_job job, void *ctx)
{
    if (pool->threads == 1) {
        job(ctx, pool, 0, 1);
        return;
    }
    pool->job = job;
    pool->ctx = ctx;
    bnn_pool_barrier(pool); /* start: the workers see job and ctx */
    job(ctx, pool, 0, pool->threads);
    bnn_pool_barrier(pool); /* end: every share is written */
}

#else /* no threads: the calling thread is the whole pool */

struct bnn_pool {
    int threads;
};

void bnn_pool_barrier(struct bnn_pool *pool)
{
    (void)pool;
}

struct bnn_pool *bnn_pool_create(int threads)
{
    struct bnn_pool *pool;

    if (threads != 1)
        return NULL;
    pool = malloc(sizeof *pool);
    if (pool != NULL)
        pool->threads = 1;
    return pool;
}

void bnn_pool_destroy(struct bnn_pool *pool)
{
    free(pool);
}

void bnn_pool_run(struct bnn_pool *pool, bnn_pool_job job, void *ctx)
{
    job(ctx, pool, 0, 1);
}

#endif

int bnn_pool_threads(const struct bnn_pool *pool)
{
    return pool->threads;
}
