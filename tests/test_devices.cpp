// Devices without a GPU: clear errors, never an abort. (The GPU itself is tested in test_cuda.)
#define BOOST_TEST_MODULE devices
#include "cuda/cuda.h"
#include "cuda/runtime.h"
#include "tests/test_helpers.h"

using namespace tapegrad;

BOOST_AUTO_TEST_CASE(device_queries_answer_without_a_gpu) {
    int count = cuda::device_count();
    BOOST_CHECK(count >= 0);
    BOOST_CHECK_EQUAL(cuda::is_available(), count > 0);
    BOOST_TEST_MESSAGE("CUDA devices: " << count);
}

namespace {
struct NoGpu {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result result(!cuda::is_available());
        result.message() << "a CUDA device is present (test_cuda covers the GPU, including a missing device index)";
        return result;
    }
};
}  // namespace

BOOST_AUTO_TEST_CASE(cuda_tensor_without_device_is_a_clear_error, *boost::unit_test::precondition(NoGpu())) {
    // This suite links libtapegrad_cuda when tapegrad is built with nvcc (Makefile), not otherwise.
    if (cuda::linked_runtime()) {
        TAPEGRAD_CHECK_ERROR(Tensor::zeros({2, 3}, DType::Float32, Device::cuda(0)), "cuda allocate", "no CUDA device");
        TAPEGRAD_CHECK_ERROR(cuda::device_name(0), "no CUDA device");
    } else {
        TAPEGRAD_CHECK_ERROR(Tensor::zeros({2, 3}, DType::Float32, Device::cuda(0)), "backend",
                             "does not link tapegrad's CUDA backend", "libtapegrad_cuda");
        TAPEGRAD_CHECK_ERROR(cuda::device_name(0), "cuda::device_name", "libtapegrad_cuda");
    }
    TAPEGRAD_CHECK_ERROR(to(Tensor::ones({2}), Device::cuda(0)), "cuda:0");
}

BOOST_AUTO_TEST_CASE(ops_reject_mixed_devices) {
    // A tensor that claims to live on cuda:0, over host memory: the device check runs before any
    // kernel touches the data, so this exercises the check without a GPU.
    float host[3] = {1, 2, 3};
    Tensor on_gpu = Tensor::from_blob(host, {3}, DType::Float32, Device::cuda(0));
    Tensor on_cpu = Tensor::ones({3});
    TAPEGRAD_CHECK_ERROR(on_cpu + on_gpu, "add", "different devices", "cpu", "cuda:0");
    TAPEGRAD_CHECK_ERROR(matmul(reshape(on_cpu, {1, 3}), reshape(on_gpu, {3, 1})), "matmul", "cuda:0");
    TAPEGRAD_CHECK_ERROR(concat({on_cpu, on_gpu}, 0), "concat", "cuda:0");
    TAPEGRAD_CHECK_ERROR(index_select(Tensor::ones({3, 2}), 0, Tensor::from_blob(host, {1}, DType::Int64, Device::cuda(0))),
                         "index_select", "cuda:0", "cpu");
}

BOOST_AUTO_TEST_CASE(out_of_memory_message_format) {
    std::string m = cuda::out_of_memory_message(3u << 30, 1000, 2000, "out of memory");
    BOOST_CHECK_MESSAGE(m.find("cuda allocate: out of memory") == 0, m);
    BOOST_CHECK_MESSAGE(m.find("3221225472 bytes (3072.0 MiB)") != std::string::npos, m);
    BOOST_CHECK_MESSAGE(m.find("1000 bytes in use") != std::string::npos, m);
    BOOST_CHECK_MESSAGE(m.find("2000 bytes cached") != std::string::npos, m);
    BOOST_CHECK_MESSAGE(m.find("retrying once") != std::string::npos, m);
}
