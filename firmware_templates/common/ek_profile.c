/* edgekit firmware: per-op profile of one invoke. See ek_profile.h and docs/protocol.md. */
#include "ek_profile.h"

#include "ek_port.h"
#include "ek_protocol.h"

static ek_profile_t last_profile;

#if EK_PROFILE_AVAILABLE
static struct {
    ek_profile_t *prof;
    uint32_t mark; /* when the previous op ended (or the invoke started) */
} run;

/* One counter read per op: the hook's own cost is charged to the next op, never lost. */
static void on_op(uint32_t op_index)
{
    uint32_t now = ek_port_cycles();
    if (op_index < (uint32_t)EK_PROFILE_MAX_OPS) {
        run.prof->op[op_index] += now - run.mark; /* unsigned: right across one wrap */
    }
    if (run.prof->marks != 0xFFFFu) {
        run.prof->marks++;
    }
    run.mark = now;
}

int ek_profile_run(const int8_t *input, int8_t *output, ek_profile_t *prof)
{
    uint32_t t0, t1;
    size_t i;
    int rc;
    for (i = 0; i < (size_t)EK_PROFILE_MAX_OPS; i++) {
        prof->op[i] = 0;
    }
    prof->marks = 0;
    prof->valid = 0;
    run.prof = prof;
    edgekit_model_reset(); /* as for INFER (ek_app.c): an independent sequence, not timed */
    edgekit_model_op_hook = on_op;
    t0 = ek_port_cycles();
    run.mark = t0;
    rc = edgekit_model_invoke(input, output);
    t1 = ek_port_cycles();
    edgekit_model_op_hook = 0;
    prof->invoke = t1 - t0;
    prof->valid = (uint8_t)(rc == 0);
    return rc;
}
#else
int ek_profile_run(const int8_t *input, int8_t *output, ek_profile_t *prof)
{
    (void)input;
    (void)output;
    prof->valid = 0;
    return -1;
}
#endif

static void put16(uint8_t *p, size_t v)
{
    ek_put_u16(p, (uint16_t)v);
}

uint8_t ek_profile_request(const uint8_t *payload, size_t len, const int8_t *input, int8_t *output,
                           uint8_t *reply, size_t cap, size_t *reply_len, int32_t *detail)
{
    const size_t ops = (size_t)EK_PROFILE_MAX_OPS;
    size_t first, n, i;
    int rc;
    *detail = 0;
    if (!EK_PROFILE_AVAILABLE) {
        return EK_ERR_UNKNOWN_CMD; /* as a firmware from before PROFILE answers */
    }
    if (len != EK_PROFILE_REQUEST_BYTES) {
        *detail = (int32_t)EK_PROFILE_REQUEST_BYTES;
        return EK_ERR_BAD_LENGTH;
    }
    first = ek_get_u16(payload + 2);
    if (payload[0] > 1u || payload[1] != 0u || first > ops) {
        *detail = (int32_t)ops;
        return EK_ERR_BAD_ARG;
    }
    if (payload[0] == 1u) {
        rc = ek_profile_run(input, output, &last_profile);
        if (rc != 0) {
            *detail = (int32_t)rc;
            return EK_ERR_MODEL;
        }
    } else if (!last_profile.valid) {
        return EK_ERR_BAD_ARG; /* a page of a profile that was never run */
    }
    n = (cap - EK_PROFILE_REPLY_HEADER) / 4u;
    if (n > ops - first) {
        n = ops - first;
    }
    ek_put_u32(&reply[0], last_profile.invoke);
    put16(&reply[4], ops);
    put16(&reply[6], first);
    put16(&reply[8], n);
    put16(&reply[10], last_profile.marks);
    for (i = 0; i < n; i++) {
        ek_put_u32(&reply[EK_PROFILE_REPLY_HEADER + 4u * i], last_profile.op[first + i]);
    }
    *reply_len = EK_PROFILE_REPLY_HEADER + 4u * n;
    return 0;
}
