#include "backend.h"

#include "../cuda/runtime.h"

namespace tapegrad {

Backend& backend_for(Device device) {
    if (device.type == DeviceType::CPU) return cpu_backend();
    cuda::Runtime* runtime = cuda::linked_runtime();
    if (!runtime) fail("backend", "no backend for device {}: {}", to_string(device), cuda::not_linked_message);
    return runtime->backend();
}

}  // namespace tapegrad
