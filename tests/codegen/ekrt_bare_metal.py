"""A minimal bare-metal firmware for QEMU's netduinoplus2 (STM32F405) around edgekit-rt's
generated C, for tests that check the kernels on the emulated Cortex-M4F without the
project templates: the Armv7E-M DSP kernels (__ARM_FEATURE_DSP, SMLAD) and the portable C
(-DEKRT_NO_DSP), each byte for byte against tflite_micro.

The firmware runs one warm-up invoke, times 3 invokes with TIM2 (prescaler 0: one count per
instruction under `qemu-system-arm -icount shift=0`), prints the best count ("instr N") and
the outputs of every input ("out HEX"), then exits through semihosting. Performance figures
come from `edgekit compare` (benchmarks/bench_edgekit_rt.py), which runs the real firmware.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from edgekit.codegen import compile_model, kernel_include_dir, kernel_sources
from edgekit.model.tflite_graph import load_graph

CC = "arm-none-eabi-gcc"
CPU = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffunction-sections",
          "-fdata-sections", "-ffreestanding", *CPU]

LINKER_SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 1024K
         RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 192K }
ENTRY(reset_handler)
_estack = ORIGIN(RAM) + LENGTH(RAM);
SECTIONS {
  .isr_vector : { KEEP(*(.isr_vector)) } > FLASH
  .text : { *(.text*) *(.rodata*) . = ALIGN(4); } > FLASH
  _sidata = LOADADDR(.data);
  .data : { _sdata = .; *(.data*) . = ALIGN(4); _edata = .; } > RAM AT > FLASH
  .bss (NOLOAD) : { _sbss = .; *(.bss*) *(COMMON) . = ALIGN(4); _ebss = .; } > RAM
}
"""

STARTUP = r"""
#include <stdint.h>
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void reset_handler(void);
static void fault_handler(void) { for (;;) { } }
__attribute__((section(".isr_vector"), used))
void (*const vectors[16])(void) = {
    (void (*)(void))(&_estack), reset_handler, fault_handler, fault_handler,
    fault_handler, fault_handler, fault_handler, 0, 0, 0, 0, fault_handler,
    fault_handler, 0, fault_handler, fault_handler,
};
void reset_handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) { *dst++ = *src++; }
    for (dst = &_sbss; dst < &_ebss;) { *dst++ = 0; }
    *(volatile uint32_t *)0xE000ED88 |= (0xFu << 20); /* CPACR: FPU on */
    __asm volatile("dsb\n isb");
    main();
    for (;;) { }
}
"""

MAIN = r"""
#include <stdint.h>
#include "edgekit_model.h"
#include "bench_inputs.h"

#define USART1_SR (*(volatile uint32_t *)0x40011000)
#define USART1_DR (*(volatile uint32_t *)0x40011004)
#define USART1_CR1 (*(volatile uint32_t *)0x4001100C)
#define TIM2_CR1 (*(volatile uint32_t *)0x40000000)
#define TIM2_CNT (*(volatile uint32_t *)0x40000024)
#define TIM2_PSC (*(volatile uint32_t *)0x40000028)
#define TIM2_ARR (*(volatile uint32_t *)0x4000002C)
#define TIM2_EGR (*(volatile uint32_t *)0x40000014)

static void putc_(char c) { while (!(USART1_SR & 0x80u)) { } USART1_DR = (uint32_t)c; }
static void puts_(const char *s) { while (*s) { putc_(*s++); } }
static void putu(uint32_t v)
{
    char b[11]; int n = 0;
    do { b[n++] = (char)('0' + v % 10u); v /= 10u; } while (v);
    while (n) { putc_(b[--n]); }
}
static void puthex(const int8_t *p, int n)
{
    static const char h[] = "0123456789abcdef";
    int i;
    for (i = 0; i < n; i++) { uint8_t v = (uint8_t)p[i]; putc_(h[v >> 4]); putc_(h[v & 15]); }
}
static void semihost_exit(void)
{
    register uint32_t r0 __asm("r0") = 0x18;       /* SYS_EXIT */
    register uint32_t r1 __asm("r1") = 0x20026;    /* ADP_Stopped_ApplicationExit */
    __asm volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
}

static int8_t out_buf[EDGEKIT_MODEL_OUTPUT_BYTES + 1] __attribute__((aligned(4)));
#ifdef BENCH_PROFILE
uint32_t bench_marks[256];
uint32_t bench_n;
#endif

int main(void)
{
    uint32_t best = 0xFFFFFFFFu;
    int i;
    USART1_CR1 = 0x200C;
    TIM2_PSC = 0; TIM2_ARR = 0xFFFFFFFFu; TIM2_EGR = 1; TIM2_CR1 = 1;
    edgekit_model_init();
#if EDGEKIT_MODEL_STEPPED
    /* A decode step: the inputs are one sequence's steps (init reset the state), each timed. */
    for (i = 0; i < BENCH_N_INPUTS; i++) {
        uint32_t t0 = TIM2_CNT, t1;
#ifdef BENCH_PROFILE
        bench_n = 0;
        bench_marks[bench_n++] = t0;
#endif
        edgekit_model_invoke(bench_inputs[i], out_buf);
        t1 = TIM2_CNT;
        if (t1 - t0 < best) { best = t1 - t0; }
        puts_("step "); putu(t1 - t0); puts_("\n");
        puts_("out "); puthex(out_buf, EDGEKIT_MODEL_OUTPUT_BYTES); puts_("\n");
    }
    puts_("instr "); putu(best); puts_("\n");
#ifdef BENCH_PROFILE
    for (i = 1; i < (int)bench_n; i++) { /* the last step's ops */
        puts_("op "); putu(bench_marks[i] - bench_marks[i - 1]); puts_("\n");
    }
#endif
    puts_("done\n");
    semihost_exit();
    return 0;
#endif
    edgekit_model_invoke(bench_inputs[0], out_buf); /* warm-up */
    for (i = 0; i < 3; i++) {
        uint32_t t0 = TIM2_CNT, t1;
#ifdef BENCH_PROFILE
        bench_n = 0;
        bench_marks[bench_n++] = t0;
#endif
        edgekit_model_invoke(bench_inputs[0], out_buf);
        t1 = TIM2_CNT;
        if (t1 - t0 < best) { best = t1 - t0; }
    }
    puts_("\ninstr "); putu(best); puts_("\n");
#ifdef BENCH_PROFILE
    for (i = 1; i < (int)bench_n; i++) {
        puts_("op "); putu(bench_marks[i] - bench_marks[i - 1]); puts_("\n");
    }
#endif
    for (i = 0; i < BENCH_N_INPUTS; i++) {
        edgekit_model_reset(); /* each input an independent sequence (recurrent models) */
        edgekit_model_invoke(bench_inputs[i], out_buf);
        puts_("out "); puthex(out_buf, EDGEKIT_MODEL_OUTPUT_BYTES); puts_("\n");
    }
    puts_("done\n");
    semihost_exit();
    return 0;
}
"""

STUB_MODEL = r"""
#include "edgekit_model.h"
int edgekit_model_init(void) { return 0; }
void edgekit_model_reset(void) { }
int edgekit_model_invoke(const int8_t *input, int8_t *output)
{
    output[0] = input[0];
    return 0;
}
"""


def bench_inputs(n_in: int, n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = [rng.integers(-128, 128, n_in), np.full(n_in, -128), np.full(n_in, 127)]
    rows += [rng.integers(-128, 128, n_in) for _ in range(max(0, n - 3))]
    return np.stack(rows[:max(n, 1)]).astype(np.int8)


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])}... failed:\n{res.stderr[-3000:]}")
    return res


def _size(elf: Path) -> tuple[int, int, int]:
    out = _run(["arm-none-eabi-size", "-A", str(elf)]).stdout
    sec = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)", out, re.M)}
    flash = sec.get(".isr_vector", 0) + sec.get(".text", 0) + sec.get(".data", 0)
    ram = sec.get(".data", 0) + sec.get(".bss", 0)
    return flash, ram, sec.get(".bss", 0)


def build_firmware(tflite: Path, work: Path, inputs: np.ndarray, dsp: bool,
                   stub: bool = False, profile: bool = False, speed: bool = False) -> Path:
    graph = load_graph(tflite)
    work.mkdir(parents=True, exist_ok=True)
    for name, text in compile_model(graph, speed).sources().items():
        (work / name).write_text(text)
    (work / "link.ld").write_text(LINKER_SCRIPT)
    (work / "startup.c").write_text(STARTUP)
    (work / "main.c").write_text(MAIN)
    # The input's bytes (uint8 and int16 inputs too), word-aligned as the model API asks.
    raw = np.ascontiguousarray(inputs.astype(inputs.dtype.newbyteorder("<"))).view(np.int8)
    rows = ",\n".join("{" + ",".join(str(int(v)) for v in r) + "}" for r in raw)
    (work / "bench_inputs.h").write_text(
        f"#define BENCH_N_INPUTS {len(raw)}\n"
        f"static const int8_t bench_inputs[{len(raw)}][{raw.shape[1]}] "
        f"__attribute__((aligned(4))) = {{\n{rows}\n}};\n")
    srcs = [work / "startup.c", work / "main.c"]
    if stub:
        (work / "stub_model.c").write_text(STUB_MODEL)
        srcs.append(work / "stub_model.c")
    else:
        srcs += [work / "edgekit_model.c", *[p for p in kernel_sources() if p.suffix == ".c"]]
    elf = work / ("stub.elf" if stub else ("dsp.elf" if dsp else "portable.elf"))
    flags = CFLAGS + ([] if dsp else ["-DEKRT_NO_DSP"])
    if profile:
        flags += ["-DBENCH_PROFILE", "-DEKRT_OP_HOOK(i)=do { extern uint32_t bench_marks[], "
                  "bench_n; bench_marks[bench_n++] = *(volatile uint32_t *)0x40000024; } while (0)"]
    _run([CC, *flags, "-I", str(work), "-I", str(kernel_include_dir()), *map(str, srcs),
          "-nostartfiles", "-nostdlib", "-Wl,--gc-sections", "-T", str(work / "link.ld"),
          "-lgcc", "-o", str(elf)])
    return elf


def run_qemu(elf: Path, timeout: float = 600) -> tuple[int, list[bytes]]:
    """(best instruction count of an invoke, the outputs of every input)."""
    instr, _, outs = run_qemu_steps(elf, timeout)
    return instr, outs


def run_qemu_steps(elf: Path, timeout: float = 600) -> tuple[int, list[int], list[bytes]]:
    """run_qemu with, for a stepped model (EDGEKIT_MODEL_STEPPED), each step's instructions."""
    cmd = ["qemu-system-arm", "-M", "netduinoplus2", "-icount", "shift=0", "-nographic",
           "-monitor", "none", "-serial", "stdio", "-semihosting-config",
           "enable=on,target=native", "-kernel", str(elf)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    m = re.search(r"instr (\d+)", res.stdout)
    if not m or "done" not in res.stdout:
        raise RuntimeError(f"firmware did not finish: rc={res.returncode}\n{res.stdout[-2000:]}"
                           f"\n{res.stderr[-2000:]}")
    outs = [bytes.fromhex(h) for h in re.findall(r"^out ([0-9a-f]+)", res.stdout, re.M)]
    steps = [int(n) for n in re.findall(r"^step (\d+)", res.stdout, re.M)]
    return int(m.group(1)), steps, outs


def tflm_outputs(tflite: Path, inputs: np.ndarray) -> list[bytes]:
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(tflite.read_bytes())
    shape = it.get_input_details(0)["shape"]
    outs = []
    for row in inputs:
        it.reset()  # as the firmware: variable tensors (LSTM state) reset before each input
        it.set_input(row.reshape(shape), 0)
        it.invoke()
        out = np.ascontiguousarray(it.get_output(0))
        outs.append(out.astype(out.dtype.newbyteorder("<")).tobytes())
    return outs
