"""W3's variants in PyTorch (bench/run.sh, *W3 variants*): w3.py's MLP with
dropout(0.2) after each hidden layer (VARIANT dropout) or BatchNorm1d after
each hidden layer's product, before the ReLU, without its bias (VARIANT bn),
EPOCHS epochs (default 2).  Usage: w3_var.py VARIANT [EPOCHS]

Prints one line per epoch, "epoch E seconds S test_accuracy A", S the training
time of that epoch alone (train mode), the accuracy in eval mode.
"""
import math, sys, time, torch
import fashion

variant = sys.argv[1]
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(2)
torch.set_flush_denormal(True)
torch.manual_seed(0)
x, c = fashion.load("train")
xt, ct = fashion.load("t10k")
L = torch.nn
if variant == "dropout":
    net = L.Sequential(L.Linear(784, 256), L.ReLU(), L.Dropout(0.2), L.Linear(256, 128), L.ReLU(),
                       L.Dropout(0.2), L.Linear(128, 10))
elif variant == "bn":
    net = L.Sequential(L.Linear(784, 256, bias=False), L.BatchNorm1d(256), L.ReLU(),
                       L.Linear(256, 128, bias=False), L.BatchNorm1d(128), L.ReLU(), L.Linear(128, 10))
else:
    sys.exit("w3_var.py: VARIANT is dropout or bn")
weights = [m.weight for m in net if isinstance(m, L.Linear)]
opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
xent = L.CrossEntropyLoss()
for epoch in range(1, epochs + 1):
    for g in opt.param_groups:
        g["lr"] = 1e-3 * math.exp(-0.1 * (epoch - 1))
    net.train()
    t0 = time.perf_counter()
    perm = torch.randperm(60000)
    for i in range(0, 60000, 64):
        idx = perm[i:i + 64]
        opt.zero_grad()
        loss = xent(net(x[idx]), c[idx]) + 1e-4 * 0.5 * sum((w * w).sum() for w in weights)
        loss.backward()
        opt.step()
    secs = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        acc = float((net(xt).argmax(1) == ct).float().mean())
    print("epoch %d seconds %.4f test_accuracy %.4f" % (epoch, secs, acc), flush=True)
