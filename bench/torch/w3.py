"""W3 in PyTorch (docs/performance.md, make bench): 784-256-128-10 MLP on Fashion-MNIST,
Adam + L2 + exponential decay, batch 64, shuffled, EPOCHS epochs (argv[1], default 5).

Prints one line per epoch, "epoch E seconds S test_accuracy A", S the training time
of that epoch alone (no evaluation), and a last line "flush F" (argv[2] = "keep"
keeps denormals, as PyTorch does by default).
"""
import math, sys, time, torch
import fashion

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
flush = not (len(sys.argv) > 2 and sys.argv[2] == "keep")
torch.set_num_threads(2)
torch.set_flush_denormal(flush)
torch.manual_seed(0)
x, c = fashion.load("train")
xt, ct = fashion.load("t10k")
net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                          torch.nn.ReLU(), torch.nn.Linear(128, 10))
weights = [m.weight for m in net if isinstance(m, torch.nn.Linear)]
opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
xent = torch.nn.CrossEntropyLoss()
for epoch in range(1, epochs + 1):
    for g in opt.param_groups:
        g["lr"] = 1e-3 * math.exp(-0.1 * (epoch - 1))
    t0 = time.perf_counter()
    perm = torch.randperm(60000)
    for i in range(0, 60000, 64):
        idx = perm[i:i + 64]
        opt.zero_grad()
        loss = xent(net(x[idx]), c[idx]) + 1e-4 * 0.5 * sum((w * w).sum() for w in weights)
        loss.backward()
        opt.step()
    secs = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((net(xt).argmax(1) == ct).float().mean())
    print("epoch %d seconds %.4f test_accuracy %.4f" % (epoch, secs, acc), flush=True)
print("flush %d" % flush)
