// tapegrad: a tape-based reverse-mode autodiff framework. Include this one header.
#pragma once
#include "autograd/gradcheck.h"
#include "autograd/tape.h"
#include "core/backend.h"
#include "core/tensor.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/nn.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
