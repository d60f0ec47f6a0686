#!/usr/bin/env python3
"""Benchmark edgekit-rt on an emulated Cortex-M4F: RAM, flash and instructions per inference.

    python benchmarks/bench_edgekit_rt.py [MODEL.tflite ...] [--inputs N]

For each model: generate edgekit-rt C, link a minimal bare-metal firmware for QEMU's
netduinoplus2 (STM32F405: flash 0x08000000, RAM 0x20000000 192 KiB), built with
arm-none-eabi-gcc -O2 -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard --gc-sections,
twice: with the Armv7E-M DSP kernels (__ARM_FEATURE_DSP, SMLAD) and portable C
(-DEKRT_NO_DSP). The firmware runs one warm-up invoke, then times 3 invokes with TIM2
(prescaler 0), which under `qemu-system-arm -icount shift=0` counts one per executed
instruction: the figures are QEMU instructions, not Cortex-M4 cycles. The firmware also
prints its outputs for a few inputs, which are compared with the tflite_micro package.

Flash is the linked firmware minus the same firmware with a stub model (runtime code +
model code + constant data). The default models are built by edgekit.model.zoo; the TFLM
figures below were measured on models of the same structure (TFLM 90b983c2, CMSIS-NN
4ab83cc3, arm-none-eabi-gcc 12.2 -O2, same emulated board and counting method).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.codegen import compile_model, kernel_include_dir, kernel_sources  # noqa: E402
from edgekit.model.tflite_graph import load_graph  # noqa: E402

# Model name -> TFLM figures: const and lower-bound bytes, instructions per inference
# (reference kernels, CMSIS-NN) and the smallest arena AllocateTensors accepted.
TFLM = {
    "sine": {"const": 420, "lower": 32, "ref_instr": 5094, "cmsis_instr": 3774, "arena": 1328},
    "ds_cnn_kws": {"const": 24368, "lower": 16000, "ref_instr": 43084499, "cmsis_instr": 7701153,
                   "arena": 22784},
    "ad_autoencoder": {"const": 270880, "lower": 768, "ref_instr": 1692442, "cmsis_instr": 595917,
                       "arena": 20192},
}

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

static int8_t out_buf[EDGEKIT_MODEL_OUTPUT_BYTES + 1];
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
                   stub: bool = False, profile: bool = False) -> Path:
    graph = load_graph(tflite)
    work.mkdir(parents=True, exist_ok=True)
    for name, text in compile_model(graph).sources().items():
        (work / name).write_text(text)
    (work / "link.ld").write_text(LINKER_SCRIPT)
    (work / "startup.c").write_text(STARTUP)
    (work / "main.c").write_text(MAIN)
    rows = ",\n".join("{" + ",".join(str(int(v)) for v in r) + "}" for r in inputs)
    (work / "bench_inputs.h").write_text(
        f"#define BENCH_N_INPUTS {len(inputs)}\n"
        f"static const int8_t bench_inputs[{len(inputs)}][{inputs.shape[1]}] = {{\n{rows}\n}};\n")
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
    cmd = ["qemu-system-arm", "-M", "netduinoplus2", "-icount", "shift=0", "-nographic",
           "-monitor", "none", "-serial", "stdio", "-semihosting-config",
           "enable=on,target=native", "-kernel", str(elf)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    m = re.search(r"instr (\d+)", res.stdout)
    if not m or "done" not in res.stdout:
        raise RuntimeError(f"firmware did not finish: rc={res.returncode}\n{res.stdout[-2000:]}"
                           f"\n{res.stderr[-2000:]}")
    outs = [bytes.fromhex(h) for h in re.findall(r"^out ([0-9a-f]+)", res.stdout, re.M)]
    return int(m.group(1)), outs


def tflm_outputs(tflite: Path, inputs: np.ndarray) -> list[bytes]:
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(tflite.read_bytes())
    shape = it.get_input_details(0)["shape"]
    outs = []
    for row in inputs:
        it.set_input(row.reshape(shape), 0)
        it.invoke()
        outs.append(np.asarray(it.get_output(0), dtype=np.int8).tobytes())
    return outs


def bench_model(tflite: Path, n_inputs: int = 4, work_root: Path | None = None) -> dict:
    graph = load_graph(tflite)
    summary = compile_model(graph).summary.to_dict()
    inputs = bench_inputs(graph.input_tensors[0].size, n_inputs)
    root = Path(work_root or tempfile.mkdtemp(prefix="ekrt-bench-")) / tflite.stem
    want = tflm_outputs(tflite, inputs)
    res: dict = {"model": tflite.stem, **summary}
    stub_flash, stub_ram, _ = _size(build_firmware(tflite, root / "stub", inputs, True, stub=True))
    for variant, dsp in (("dsp", True), ("portable", False)):
        elf = build_firmware(tflite, root / variant, inputs, dsp)
        flash, ram, _ = _size(elf)
        instr, outs = run_qemu(elf)
        res[f"{variant}_instr"] = instr
        res[f"{variant}_flash"] = flash - stub_flash
        res[f"{variant}_ram"] = ram - stub_ram
        res[f"{variant}_exact"] = outs == want
        res[f"{variant}_compared"] = len(outs)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", type=Path,
                    help="int8 .tflite files [default: the benchmark models, built by edgekit.model.zoo]")
    ap.add_argument("--inputs", type=int, default=4, help="inputs whose outputs are compared")
    ap.add_argument("--keep", type=Path, default=None, help="keep build trees here")
    args = ap.parse_args(argv)
    if not args.models:
        from edgekit.model import zoo

        args.models = [zoo.model_path(name) for name in zoo.MODEL_NAMES]
    rows = []
    for m in args.models:
        r = bench_model(m, args.inputs, args.keep)
        rows.append(r)
        t = TFLM.get(m.stem, {})
        print(f"\n== {m.stem}  (ops: {', '.join(r['ops'])}; {r['macs']:,} MACs)")
        print(f"  RAM   arena {r['arena_bytes']:,} B (+{r['dsp_ram'] - r['arena_bytes']} B other "
              f"static RAM); lower bound (all activations, no in-place) {r['lower_bound_bytes']:,} B;"
              f" this plan's bound {r['plan_lower_bound_bytes']:,} B"
              + (f"; TFLM arena {t['arena']:,} B -> {r['arena_bytes'] / t['arena']:.2f}x" if t else ""))
        budget = r["model_weight_bytes"] + 8192
        print(f"  flash DSP {r['dsp_flash']:,} B, portable {r['portable_flash']:,} B "
              f"(budget const {r['model_weight_bytes']:,} + 8 KiB = {budget:,} B; generated "
              f"const data incl. folded biases/multipliers {r['const_bytes']:,} B)")
        for v, ref_key, label in (("portable", "ref_instr", "TFLM reference"),
                                  ("dsp", "cmsis_instr", "TFLM+CMSIS-NN")):
            ratio = f" -> {r[v + '_instr'] / t[ref_key]:.3f}x {label} ({t[ref_key]:,})" if t else ""
            print(f"  QEMU instructions/inference ({v}): {r[v + '_instr']:,}{ratio}; outputs "
                  f"{'bit-exact' if r[v + '_exact'] else 'MISMATCH'} vs tflite_micro on "
                  f"{r[v + '_compared']} inputs")
    print("\nInstructions are QEMU -icount instructions (TIM2 at 1 count/instruction), not "
          "Cortex-M4 cycles.")
    return 0 if all(r["dsp_exact"] and r["portable_exact"] for r in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
