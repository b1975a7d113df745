/// \file
/// Where a tensor's storage lives: the CPU, or CUDA device `index`.
#pragma once
#include <string>

namespace tapegrad {

/// The kinds of device a tensor's memory may live on.
enum class DeviceType { CPU, CUDA };

/// A device: its type and, for CUDA, its index.
struct Device {
    DeviceType type = DeviceType::CPU;  ///< CPU or CUDA
    int index = 0;  ///< the CUDA device's index (0 for the CPU)

    static Device cpu() { return {DeviceType::CPU, 0}; }  ///< the CPU
    static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }  ///< CUDA device `index`
    bool is_cpu() const { return type == DeviceType::CPU; }  ///< whether this is the CPU
    bool operator==(const Device& o) const { return type == o.type && index == o.index; }  ///< same type and index
    bool operator!=(const Device& o) const { return !(*this == o); }  ///< another type or index
};

/// "cpu", or "cuda:0" for CUDA device 0.
inline std::string to_string(Device d) {
    return d.is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(d.index);
}

}  // namespace tapegrad
