#!/usr/bin/env bash
# Install what edgekit needs on a fresh Debian/Ubuntu machine, then a virtualenv with edgekit.
# Idempotent: packages already present are not reinstalled; the venv is reused while
# pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
# Toolchains and the virtual board: ARM GCC + newlib (STM32 firmware), QEMU (virtual board),
# CMake + Ninja (project builds), clang + its fuzzer runtime (protocol fuzzing),
# RISC-V GCC + picolibc and QEMU for RISC-V (the rv32imc virtual board, the ESP32-C3 ISA),
# ser2net (a labgrid exporter serves each board's console through it: the virtual farm).
APT_PACKAGES=(gcc g++ make cmake ninja-build gcc-arm-none-eabi libnewlib-arm-none-eabi
  libstdc++-arm-none-eabi-newlib qemu-system-arm qemu-system-misc clang libclang-rt-14-dev
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf python3-venv ser2net)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "edgekit setup: installing system packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to apt-get install ${missing[*]}" >&2; exit 4; }
    SUDO="sudo"
  fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

stamp="$VENV/.edgekit-installed"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "edgekit setup: installing edgekit and its Python dependencies into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[test]"
  touch "$stamp"
fi
