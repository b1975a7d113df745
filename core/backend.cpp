#include "backend.h"

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

}  // namespace tapegrad
