"""One convolution layer forward and backward in PyTorch, as bench/hand/conv.c
times nnc's kernels: a batch of N samples [C, H, W], the output [O, H', W'],
then the gradients of the input, the kernel and the bias (2 threads, denormals
flushed).  argv: C H W O K PAD N REPS; prints "conv SECONDS_PER_STEP GFLOPS"
(the best of REPS steps; 3 x 2 C K K O H' W' N FLOPs a step).
"""
import sys, time, torch
import torch.nn.functional as F

C, H, W, O, K, P, N, reps = map(int, sys.argv[1:9])
torch.set_num_threads(2)
torch.set_flush_denormal(True)
torch.manual_seed(0)
x = torch.rand(N, C, H, W, requires_grad=True)
k = torch.rand(O, C, K, K, requires_grad=True)
b = torch.rand(O, requires_grad=True)
OH, OW = H + 2 * P - K + 1, W + 2 * P - K + 1
dy = torch.rand(N, O, OH, OW)
best = 1e30
for _ in range(reps):
    t0 = time.perf_counter()
    y = F.conv2d(x, k, b, padding=P)
    gx, gk, gb = torch.autograd.grad(y, (x, k, b), dy)
    best = min(best, time.perf_counter() - t0)
print("conv %.6f %.2f" % (best, 3.0 * 2 * C * K * K * O * OH * OW * N / best * 1e-9))
