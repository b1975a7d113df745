/// \file
/// tapegrad: a tape-based reverse-mode autodiff framework. Include this one header: it holds the
/// whole public API. (tapegrad-train's trainer, train/trainer.h, is a program's library: include
/// it on its own.)
#pragma once

// Tensors, their dtypes, devices and shapes; random generators; the error every misuse throws.
#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/random.h"
#include "core/shape.h"
#include "core/tensor.h"

// The tape and backward; gradient checks and the inspection tools.
#include "autograd/anomaly.h"
#include "autograd/dot_export.h"
#include "autograd/grad_flow.h"
#include "autograd/gradcheck.h"
#include "autograd/stepper.h"
#include "autograd/tape.h"
#include "autograd/tape_print.h"

// The ops, and what a user's own op is written with (ops/op_utils.h, core/backend.h).
#include "core/backend.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/nn.h"
#include "ops/op_utils.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

// Modules, the cells and models, optimizers, checkpoints, metrics.
#include "models/checkpoint.h"
#include "models/containers.h"
#include "models/init.h"
#include "models/layers.h"
#include "models/metrics.h"
#include "models/module.h"
#include "models/optim.h"
#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "models/transformer.h"

// The data sets: IMDB and the formal-language tasks.
#include "data/formal_tasks.h"
#include "data/imdb.h"

// Threads, the BLAS in use, the GPU.
#include "cpu/blas_info.h"
#include "cpu/cpu_threads.h"
#include "cuda/cuda.h"
