/* bnnkit's instruction counter for qemu-user: at exit it prints
 *     insns: N
 * to stderr, N being every guest instruction the process executed, and with
 * the argument vcpus=on also one line per vCPU (in qemu-user a vCPU is a
 * guest thread; qemu reuses the index of a thread that has exited)
 *     vcpu I insns: N
 * Use: qemu-aarch64 -plugin ./libbnninsn.so[,vcpus=on] ./prog ARGS
 *
 * Default: an inline add per executed instruction, emitted by qemu into the
 * translated code (no call, exact). That add is not atomic, so threads
 * running at once can lose counts: it is for single-threaded programs.
 * vcpus=on: the vCPU index reaches only a callback, so one call per
 * executed translation block adds the block's instruction count to that
 * vCPU's slot, and the total is the sum of the slots. Each slot is written
 * by its own thread only and is a cache line of its own. A block counts in
 * full when it is entered; it stops early only when an instruction in it
 * faults, so for programs that do not fault both modes count the same. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAX_VCPUS 512

struct vcpu_slot {
    uint64_t insns;
    char pad[64 - sizeof(uint64_t)];
};

static uint64_t total;
static int per_vcpu;
static struct vcpu_slot vcpus[MAX_VCPUS];
static uint64_t beyond_max; /* vCPUs numbered MAX_VCPUS and up, summed */

static void on_tb_exec(unsigned int vcpu_index, void *userdata)
{
    const uint64_t n = (uint64_t)(uintptr_t)userdata;

    if (vcpu_index < MAX_VCPUS)
        vcpus[vcpu_index].insns += n;
    else
        __atomic_fetch_add(&beyond_max, n, __ATOMIC_RELAXED);
}

static void on_tb_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    const size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;

    (void)id;
    if (per_vcpu) {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)n);
        return;
    }
    for (i = 0; i < n; i++)
        qemu_plugin_register_vcpu_insn_exec_inline(qemu_plugin_tb_get_insn(tb, i),
                                                   QEMU_PLUGIN_INLINE_ADD_U64, &total, 1);
}

static void on_exit(qemu_plugin_id_t id, void *userdata)
{
    unsigned int i;

    (void)id;
    (void)userdata;
    if (per_vcpu) {
        total = beyond_max;
        for (i = 0; i < MAX_VCPUS; i++)
            total += vcpus[i].insns;
    }
    fprintf(stderr, "insns: %" PRIu64 "\n", total);
    if (!per_vcpu)
        return;
    for (i = 0; i < MAX_VCPUS; i++)
        if (vcpus[i].insns)
            fprintf(stderr, "vcpu %u insns: %" PRIu64 "\n", i, vcpus[i].insns);
    if (beyond_max)
        fprintf(stderr, "vcpu %u+ insns: %" PRIu64 "\n", MAX_VCPUS, beyond_max);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    int i;

    (void)info;
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "vcpus=on") == 0) {
            per_vcpu = 1;
        } else if (strcmp(argv[i], "vcpus=off") != 0) {
            fprintf(stderr, "bnn_insncount: unknown argument '%s' (use vcpus=on)\n", argv[i]);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
