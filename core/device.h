/// \file
/// Where a tensor's storage lives: the CPU, or CUDA device `index`.
#pragma once
#include <string>

namespace tapegrad {

enum class DeviceType { CPU, CUDA };

struct Device {
    DeviceType type = DeviceType::CPU;
    int index = 0;

    static Device cpu() { return {DeviceType::CPU, 0}; }
    static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
    bool is_cpu() const { return type == DeviceType::CPU; }
    bool operator==(const Device& o) const { return type == o.type && index == o.index; }
    bool operator!=(const Device& o) const { return !(*this == o); }
};

inline std::string to_string(Device d) {
    return d.is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(d.index);
}

}  // namespace tapegrad
