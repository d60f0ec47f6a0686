/* edgekit firmware application: the protocol endpoint (docs/protocol.md).
 *
 * main() of every port does:
 *     ek_port_init();
 *     ek_app_run();          (never returns)
 * or, under an RTOS / super-loop, calls ek_app_init() once and ek_app_poll() often.
 * The application touches the hardware only through ek_port.h and the model only
 * through edgekit_model.h; it owns all its buffers statically. Streaming (and its limits,
 * EK_APP_MAX_SENSOR_VALUES, EK_APP_STREAM_MAX_LAG_MS; rates: the board file) is ek_stream.h.
 */
#ifndef EK_APP_H
#define EK_APP_H

#ifdef __cplusplus
extern "C" {
#endif

/* Board id and firmware version reported by INFO; the generated project defines them. */
#ifndef EK_BOARD_ID
#define EK_BOARD_ID "unknown"
#endif
#ifndef EK_FIRMWARE_VERSION
#define EK_FIRMWARE_VERSION "0.0.0"
#endif

/* Reset state and initialise the model (edgekit_model_init). Safe to call again. */
void ek_app_init(void);

/* One step: read the UART bytes waiting, answer complete requests, send a due stream
 * sample. Returns quickly unless a request runs the model. Calls ek_app_init() first
 * if it was never called. */
void ek_app_poll(void);

/* ek_app_init() then ek_app_poll() forever. */
void ek_app_run(void);

#ifdef __cplusplus
}
#endif

#endif /* EK_APP_H */
