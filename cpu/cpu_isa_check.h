// Internal to the CPU backend: the instruction set this build of tapegrad was compiled for.
#pragma once

namespace tapegrad {

// The build's own instruction set (Makefile: ARCH), e.g. "x86-64-v3".
const char* build_isa();

// Exits with a message saying how to rebuild unless this CPU runs code built for build_isa().
// Runs before every static initializer of a program (a constructor of priority 101), and again
// on the CPU backend's first use (cpu_backend()), which is what links it into every program.
void check_instruction_set();

}  // namespace tapegrad
