#include "core/backend.h"

namespace tapegrad {

namespace {
Backend*& slot(DeviceType type) {
    static Backend* backends[2] = {nullptr, nullptr};
    return backends[type == DeviceType::CPU ? 0 : 1];
}
}  // namespace

void register_backend(DeviceType type, Backend* backend) { slot(type) = backend; }

Backend& backend_for(Device device) {
    Backend* backend = slot(device.type);
    if (!backend)
        fail("backend", "no backend for device {}: tapegrad was built without CUDA support (rebuild with nvcc "
             "on PATH and CUDA=1)", to_string(device));
    return *backend;
}

const char* to_string(UnaryOp op) {
    switch (op) {
        case UnaryOp::Neg: return "neg";
        case UnaryOp::Exp: return "exp";
        case UnaryOp::Log: return "log";
        case UnaryOp::Tanh: return "tanh";
        case UnaryOp::Sigmoid: return "sigmoid";
        case UnaryOp::Relu: return "relu";
        case UnaryOp::Sqrt: return "sqrt";
        case UnaryOp::Pow: return "pow";
        case UnaryOp::AddScalar: return "add_scalar";
        case UnaryOp::MulScalar: return "mul_scalar";
    }
    return "?";
}

const char* to_string(BinaryOp op) {
    switch (op) {
        case BinaryOp::Add: return "add";
        case BinaryOp::Sub: return "sub";
        case BinaryOp::Mul: return "mul";
        case BinaryOp::Div: return "div";
        case BinaryOp::BceWithLogits: return "bce_with_logits";
    }
    return "?";
}

}  // namespace tapegrad
