// The host emulation's canary (`make test-cuda-emu`): bugs the emulation exists to catch, each made
// on purpose in a child process of its own (a fault is sticky), each of which must be caught:
//   past-the-end   a grid loop `i <= n`: one element written past the end of its allocation
//   host-read      host code dereferencing a device pointer
//   barrier        __syncthreads in a branch only some threads take
//   direction      cudaMemcpy told HostToDevice for a device-to-host copy
//   foreign        a kernel given memory of another device (needs TAPEGRAD_EMU_DEVICES >= 2)
// A clean run of the suites means something only if these fail. Prints one line per bug; exits 1
// unless every bug was caught.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <cuda_runtime.h>

namespace {

__global__ void fill_one_too_many(float* y, int64_t n) {
    for (int64_t i = blockIdx.x * blockDim.x + threadIdx.x; i <= n; i += blockDim.x * gridDim.x) y[i] = 1;
}

__global__ void barrier_in_a_branch(float* y) {
    if (threadIdx.x < 16) __syncthreads();
    y[threadIdx.x] = 1;
}

template <typename... P, typename... A>
cudaError_t run(void (*kernel)(P...), unsigned blocks, unsigned threads, A... args) {
    void* pointers[] = {&args...};
    cudaError_t launched = cudaLaunchKernel(kernel, dim3(blocks), dim3(threads), pointers, 0, nullptr);
    return launched != cudaSuccess ? launched : cudaDeviceSynchronize();
}

float* device_floats(size_t n) {
    void* p = nullptr;
    if (cudaMalloc(&p, n * sizeof(float)) != cudaSuccess) std::exit(3);
    return static_cast<float*>(p);
}

// Each bug, in the child: prints what the emulation said; the status says whether it was caught.
int make_bug(const std::string& bug) {
    cudaError_t status = cudaSuccess;
    if (bug == "past-the-end") {
        status = run(fill_one_too_many, 2, 64, device_floats(100), int64_t(100));
    } else if (bug == "host-read") {
        float* y = device_floats(4);
        std::printf("read %f\n", double(y[0]));  // must fault before printing
        return 0;
    } else if (bug == "barrier") {
        status = run(barrier_in_a_branch, 1, 32, device_floats(32));
    } else if (bug == "direction") {
        float host[4];
        status = cudaMemcpy(host, device_floats(4), sizeof host, cudaMemcpyHostToDevice);
    } else if (bug == "foreign") {
        if (cudaSetDevice(1) != cudaSuccess) return 2;
        float* other = device_floats(8);
        cudaSetDevice(0);
        status = run(fill_one_too_many, 1, 8, other, int64_t(7));
    }
    std::fprintf(stderr, "%s\n", cudaGetErrorString(status));
    return status == cudaSuccess ? 0 : 1;
}

// Runs `bug` in a child; caught if it failed (or faulted) and its error output says `expected`.
bool caught(const std::string& self, const std::string& bug, const std::string& expected) {
    int pipe_ends[2];
    if (pipe(pipe_ends) != 0) return false;
    pid_t child = fork();
    if (child == 0) {
        dup2(pipe_ends[1], STDERR_FILENO);
        close(pipe_ends[0]);
        execl(self.c_str(), self.c_str(), bug.c_str(), static_cast<char*>(nullptr));
        std::_Exit(4);
    }
    close(pipe_ends[1]);
    std::string said;
    char buffer[512];
    for (ssize_t got; (got = read(pipe_ends[0], buffer, sizeof buffer)) > 0;) said.append(buffer, size_t(got));
    close(pipe_ends[0]);
    int status = 0;
    waitpid(child, &status, 0);
    bool failed = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 1);
    bool ok = failed && said.find(expected) != std::string::npos;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        std::printf("emulation canary: %-12s skipped (needs TAPEGRAD_EMU_DEVICES >= 2)\n", bug.c_str());
        return true;
    }
    std::printf("emulation canary: %-12s %s: %s", bug.c_str(), ok ? "caught" : "NOT CAUGHT",
                said.empty() ? "(nothing said)\n" : said.c_str());
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2) return make_bug(argv[1]);
    bool all = caught(argv[0], "past-the-end", "wrote past the end of a device allocation of 400 bytes");
    all &= caught(argv[0], "host-read", "host code touched device memory");
    all &= caught(argv[0], "barrier", "wait at barriers not all of them reach");
    all &= caught(argv[0], "direction", "says cudaMemcpyHostToDevice, but it copies from device to host memory");
    all &= caught(argv[0], "foreign", "points to memory of cuda:1");
    return all ? 0 : 1;
}
