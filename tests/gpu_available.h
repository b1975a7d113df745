// Preconditions of the GPU suites (tests/test_cuda*.cpp): a case that needs a device is reported
// skipped, with the reason, where there is none (`*boost::unit_test::precondition(GpuAvailable())`).
#pragma once
#include <boost/test/unit_test.hpp>

#include "cuda/cuda.h"

namespace tapegrad::testing {

// At least `count` CUDA devices.
struct GpusAvailable {
    int count = 1;
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result result(cuda::device_count() >= count);
        if (count == 1) result.message() << "no CUDA device available";
        else result.message() << "needs " << count << " CUDA devices (the emulation runs these with TAPEGRAD_EMU_DEVICES=2)";
        result.message() << " (cuda::device_count() = " << cuda::device_count() << ")";
        return result;
    }
};

inline GpusAvailable GpuAvailable() { return {1}; }
inline GpusAvailable TwoGpusAvailable() { return {2}; }

}  // namespace tapegrad::testing
