"""W1 in PyTorch (docs/performance.md, make bench): full-batch GD on the tiny MLP.

usage: w1.py batched|per-sample   prints "seconds S loss L" for 2000 epochs
(per-sample: 20 epochs timed and scaled to 2000, as the workload says).
"""
import sys, time, torch

torch.set_num_threads(2)
torch.set_flush_denormal(True)
torch.manual_seed(0)
N, EPOCHS = 1000, 2000
x = torch.rand(N, 2) * 2 - 1
y = (torch.sin(3 * x[:, 0]) * torch.cos(2 * x[:, 1]))[:, None]
net = torch.nn.Sequential(torch.nn.Linear(2, 10), torch.nn.ReLU(), torch.nn.Linear(10, 10),
                          torch.nn.ReLU(), torch.nn.Linear(10, 1))
opt = torch.optim.SGD(net.parameters(), lr=0.01)
mode = sys.argv[1] if len(sys.argv) > 1 else "batched"
t0 = time.perf_counter()
if mode == "batched":
    for _ in range(EPOCHS):
        opt.zero_grad()
        loss = 0.5 * ((net(x) - y) ** 2).sum(1).mean()
        loss.backward()
        opt.step()
    secs = time.perf_counter() - t0
else:
    for _ in range(20):
        opt.zero_grad()
        for n in range(N):
            l = 0.5 * ((net(x[n:n + 1]) - y[n:n + 1]) ** 2).sum() / N
            l.backward()
        opt.step()
    secs = (time.perf_counter() - t0) * EPOCHS / 20
    loss = 0.5 * ((net(x) - y) ** 2).sum(1).mean()
print("seconds %.6f loss %.6f" % (secs, float(loss)))
