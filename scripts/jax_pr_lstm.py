#!/usr/bin/env python3
"""The JAX peer of bench/bench_pr_lstm: PR-LSTM (docs/PR-LSTM.md, R = 1) in JAX + haiku, jit-compiled,
float32, on the CPU, B = 128, H = 256, one-hot inputs of width 3 (V = 2 plus the empty token),
2 classes, cross-entropy at the last position.

    .venv/bin/python scripts/jax_pr_lstm.py 40 500   # prints "PRLSTM_40 ms", "PRLSTM_500 ms"

One train step = jax.value_and_grad of the loss, then an Adam update with PyTorch's defaults (as
tapegrad's and the PyTorch peer's steps end with Adam), one jitted function, timed up to
block_until_ready on its outputs: the median of --steps steps after a warm-up that compiles it;
wall time, or with --cpu-time the process's CPU time (bench_pr_lstm --cpu-time passes it on).

The prefix states are jax.lax.associative_scan itself with the merge M as its operator: the
bracketing docs/PR-LSTM.md defines is this scan's. Although the loss reads P[n-1] only, the compiled
step computes every merge, as tapegrad does (docs/BENCHMARKS.md, "JAX peer").

Threads: --threads (bench_pr_lstm passes tapegrad's count), else $TAPEGRAD_NUM_THREADS, else the
CPUs this process may run on, as tapegrad chooses (cpu/cpu_threads.h; without its cgroup quota).
XLA's CPU thread pool is sized by the CPUs in the process's affinity mask, so the script restricts
it to that many CPUs (sched_setaffinity) and also sets intra_op_parallelism_threads in XLA_FLAGS,
before the JAX backend starts. scripts/jax_peer_check.py checks that this model computes
tapegrad's PrLstm on tapegrad's weights. Needs scripts/setup-jax.sh; never used by `make test`.
"""
import argparse
import os
import statistics
import time

import haiku as hk
import jax
import jax.numpy as jnp
import jaxlib
import numpy as np

sig, tanh = jax.nn.sigmoid, jnp.tanh


def pr_lstm(x, hidden_size, output_size, refinements=1):
    """x [B, n, V+1] -> (h, c) [B, n, H], the prefix states, and logits [B, n, O] at every position.
    Haiku modules leaf, merge, refine_{r}, readout (tapegrad's leaf.*, merge.*, refine.{r}.*, readout.*);
    hk.Linear's default initialisation is the model's: TruncatedNormal(1/sqrt(fan_in)), biases zero."""
    H = hidden_size
    leaf = hk.Linear(3 * H, name="leaf")
    merge = hk.Linear(5 * H, name="merge")
    refine = [hk.Linear(4 * H, name=f"refine_{r}") for r in range(refinements)]
    readout = hk.Linear(output_size, name="readout")

    def combine(left, right):
        """M(l, r) = U_{R-1} ∘ ... ∘ U_0 ∘ B(l, r) on states (h, c) [B, m, H], m pairs at once:
        [i; g; o; f_L; f_R] = W_B [h_L; h_R] + b_B;  c = σ(i) tanh(g) + σ(f_L) c_L + σ(f_R) c_R;  h = σ(o) tanh(c)
        then per refinement  [i; g; o; f] = W_U h + b_U;  c' = σ(i) tanh(g) + σ(f) c;  h' = σ(o) tanh(c')"""
        (h_left, c_left), (h_right, c_right) = left, right
        i, g, o, f_left, f_right = jnp.split(merge(jnp.concatenate([h_left, h_right], -1)), 5, -1)
        c = sig(i) * tanh(g) + sig(f_left) * c_left + sig(f_right) * c_right
        h = sig(o) * tanh(c)
        for unary in refine:
            i, g, o, f = jnp.split(unary(h), 4, -1)
            c = sig(i) * tanh(g) + sig(f) * c
            h = sig(o) * tanh(c)
        return h, c

    # Leaves: [i; g; o] = W_leaf x_t + b_leaf;  c = σ(i) tanh(g);  h = σ(o) tanh(c)
    i, g, o = jnp.split(leaf(x), 3, -1)
    c = sig(i) * tanh(g)
    h = sig(o) * tanh(c)
    # P[t] = M(...M(M(D_1, D_2), D_3)..., D_k) over the aligned power-of-two blocks of 0..t.
    h, c = jax.lax.associative_scan(combine, (h, c), axis=1)
    return h, c, readout(jax.nn.relu(h))  # logits_t = W_out relu(h_t) + b_out


def cross_entropy_last(logits, targets):
    """Mean over the batch of -log softmax(logits[:, n-1])[target]; logits [B, n, O], targets [B]."""
    log_probs = jax.nn.log_softmax(logits[:, -1], -1)
    return -jnp.mean(jnp.take_along_axis(log_probs, targets[:, None], 1))


def make_model(hidden_size, output_size, refinements=1):
    """A haiku transform whose apply(params, x) returns (h, c, logits)."""
    return hk.without_apply_rng(hk.transform(lambda x: pr_lstm(x, hidden_size, output_size, refinements)))


def adam(params, grads, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  p <- p - lr (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)"""
    step, m, v = state
    step = step + 1
    m = jax.tree_util.tree_map(lambda m, g: beta1 * m + (1 - beta1) * g, m, grads)
    v = jax.tree_util.tree_map(lambda v, g: beta2 * v + (1 - beta2) * g * g, v, grads)
    correction1, correction2 = 1 - beta1 ** step, 1 - beta2 ** step
    params = jax.tree_util.tree_map(
        lambda p, m, v: p - lr * (m / correction1) / (jnp.sqrt(v / correction2) + eps), params, m, v)
    return params, (step, m, v)


def train_step_at(n, batch=128, hidden=256, width=3, classes=2):
    """A jitted step(params, adam_state) -> (params, adam_state, loss) at length n, and its start state."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(np.eye(width, dtype=np.float32)[rng.integers(width, size=(batch, n))])  # one-hot [B, n, 3]
    targets = jnp.asarray(rng.integers(classes, size=batch))
    model = make_model(hidden, classes)
    params = model.init(jax.random.PRNGKey(0), x)

    def loss_of(params):
        return cross_entropy_last(model.apply(params, x)[2], targets)

    def step(params, adam_state):
        loss, grads = jax.value_and_grad(loss_of)(params)
        params, adam_state = adam(params, grads, adam_state)
        return params, adam_state, loss

    m, v = (jax.tree_util.tree_map(jnp.zeros_like, params) for _ in range(2))
    return jax.jit(step, donate_argnums=(0, 1)), (params, (jnp.float32(0), m, v))


def median_ms(n, steps, clock):
    """(median ms per step, compile + first step in s), timed by clock() in seconds."""
    step, (params, adam_state) = train_step_at(n)
    start = clock()
    params, adam_state, loss = jax.block_until_ready(step(params, adam_state))  # compiles
    warm_up_s = clock() - start
    times = []
    for _ in range(steps):
        start = clock()
        params, adam_state, loss = jax.block_until_ready(step(params, adam_state))
        times.append(clock() - start)
    return statistics.median(times) * 1e3, warm_up_s


def limit_threads(threads):
    """Makes XLA use `threads` CPU threads; returns a note saying how. Call before JAX's backend starts."""
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cpus)
    flags = f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
    return f"threads: {threads} (sched_setaffinity to CPUs {cpus} and XLA_FLAGS={flags})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lengths", type=int, nargs="*", default=[40, 500], metavar="N")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 15; 3 at n > 100)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by the process's CPU time, not wall time (as bench_pr_lstm --cpu-time; meaningful on one thread)")
    args = parser.parse_args()
    threads = args.threads or int(os.environ.get("TAPEGRAD_NUM_THREADS", 0)) or len(os.sched_getaffinity(0))
    threads_note = limit_threads(threads)
    print(f"# JAX {jax.__version__} (jaxlib {jaxlib.__version__}), dm-haiku {hk.__version__}, "
          f"device {jax.devices()[0].device_kind} ({jax.default_backend()}), float32", flush=True)
    print(f"# {threads_note}", flush=True)
    print("# JAX step: value_and_grad + Adam in one jit, median after a compiling warm-up; "
          + ("process CPU time" if args.cpu_time else "wall time"), flush=True)
    for n in args.lengths:
        clock = time.process_time if args.cpu_time else time.perf_counter
        ms, warm_up_s = median_ms(n, args.steps or (3 if n > 100 else 15), clock)
        print(f"# n={n}: compile + first step {warm_up_s:.1f} s", flush=True)
        print(f"PRLSTM_{n} {ms:.1f}", flush=True)


if __name__ == "__main__":
    main()
