/// \file
/// Schedule: how a recurrent model runs its equations, the one switch between the form to read and
/// the form to train. Every recurrent model (Recurrent, BiLstm, QlLstm, PrLstm) has a public member
/// `schedule`, Fast unless set otherwise; run_recurrent takes it as an argument.
///
///   Reference  the equations as the cell's paper writes them, one time step at a time (PR-LSTM:
///              one level of blocks, then one prefix at a time), from public ops only (linear,
///              sigmoid, tanh, chunk, ...). Its tape has one record, or a few, per equation: the
///              step-through (examples/step_through.cpp), docs/TUTORIAL.md and
///              examples/gradient_flow.cpp show it.
///   Fast       the same equations, arranged for speed: the input projection of all T steps is one
///              GEMM before the loop; each step's recurrent product is a RecurrentLinear
///              (models/recurrent_linear.h: the weight packed once, the gates written gate-major so
///              that each is a view, the weight's gradient one GEMM after the loop); PR-LSTM merges
///              a level's blocks, and then each group of prefixes, in one batched call (about
///              2 log2 n calls). Training and the benchmarks run it.
///
/// Both compute one function: tests/test_schedules.cpp checks in float64 that Fast equals
/// Reference to 1e-12 (outputs, final states and the gradient of every input and parameter, on
/// padded batches, for every cell).
#pragma once

namespace tapegrad {

/// How a recurrent model runs its equations: Reference (as written, one step at a time) or Fast (the default; see the file's description).
enum class Schedule { Reference, Fast };

}  // namespace tapegrad
