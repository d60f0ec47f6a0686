/* edgekit firmware: per-op profile of one invoke (the PROFILE request, docs/protocol.md).
 *
 * Always compiled, off until the host asks: the model runtime calls the hook pointer
 * edgekit_model_op_hook(op_index) (edgekit_model.h) after each op of its main subgraph
 * when it is set, so an invoke that is not profiled pays one load and one branch per op.
 * edgekit-rt calls it from the generated C (EKRT_OP_HOOK); the tflm runtime from its
 * MicroProfilerInterface (edgekit_model_tflm.cc), when an op's event closes.
 *
 * Each op is charged the cycles since the previous op ended (the first op: since the invoke
 * started), read from ek_port_cycles() once per op, so the per-op counts add up to the
 * whole invoke, timed in the same run, up to what runs after the last op. Ops a runtime
 * never calls the hook for (edgekit-rt's aliased RESHAPEs) read 0.
 *
 * A model header without EDGEKIT_MODEL_OPS (an older edgekit, a test fixture) has no hook:
 * the profiler is then absent, INFO says so and PROFILE answers UNKNOWN_CMD.
 */
#ifndef EK_PROFILE_H
#define EK_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "edgekit_model.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef EDGEKIT_MODEL_OPS
#define EK_PROFILE_AVAILABLE 1u
#define EK_PROFILE_MAX_OPS ((EDGEKIT_MODEL_OPS) > 0 ? (EDGEKIT_MODEL_OPS) : 1)
#else
#define EK_PROFILE_AVAILABLE 0u
#define EK_PROFILE_MAX_OPS 1
#endif

/* PROFILE reply: u32 invoke, u16 ops, u16 first, u16 n, u16 marks, then u32 cycles[n]. */
#define EK_PROFILE_REPLY_HEADER 12u
/* PROFILE request: u8 run (1: run one invoke on the staged input first), u8 0, u16 first. */
#define EK_PROFILE_REQUEST_BYTES 4u

/* The last profiled invoke. */
typedef struct {
    uint32_t invoke;                   /* whole invoke, timed around it in the same run */
    uint32_t op[EK_PROFILE_MAX_OPS];   /* per op index */
    uint16_t marks;                    /* hook calls during that invoke */
    uint8_t valid;                     /* an invoke was profiled since boot */
} ek_profile_t;

/* Runs one invoke of the model on input with every op timed into *prof; returns the
 * model's return code (prof->valid is set only when it is 0). */
int ek_profile_run(const int8_t *input, int8_t *output, ek_profile_t *prof);

/* Answers a PROFILE request (payload, len) from the firmware's buffers: runs the model
 * when asked, then fills reply (capacity cap) with the page of op counts that starts at the
 * requested op. Returns 0 and sets *reply_len, or an EK_ERR_* code and sets *detail. */
uint8_t ek_profile_request(const uint8_t *payload, size_t len, const int8_t *input, int8_t *output,
                           uint8_t *reply, size_t cap, size_t *reply_len, int32_t *detail);

#ifdef __cplusplus
}
#endif

#endif /* EK_PROFILE_H */
