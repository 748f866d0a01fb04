"""W5 in PyTorch: the depth x width sweep on noisy XOR, 60 runs of 50 epochs.

Prints "seconds S" for the whole sweep, then one line per (depth, width):
mean and std of the validation loss over the repeats.
"""
import time, torch

torch.set_num_threads(2)
torch.set_flush_denormal(True)


def noisy_xor(n, s, seed):
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (n, 2), generator=g).float()
    x = bits + s * torch.randn(n, 2, generator=g)
    return x, (bits[:, 0] != bits[:, 1]).float()[:, None]


xt, yt = noisy_xor(1000, 0.25, 1)
xv, yv = noisy_xor(1000, 0.25, 2)
bce = torch.nn.BCEWithLogitsLoss()
t0 = time.perf_counter()
table = {}
for depth in range(4):
    for width in range(1, 4):
        losses = []
        for rep in range(5):
            torch.manual_seed(rep)
            layers, d = [], 2
            for _ in range(depth):
                layers += [torch.nn.Linear(d, width), torch.nn.Tanh()]
                d = width
            net = torch.nn.Sequential(*layers, torch.nn.Linear(d, 1))
            opt = torch.optim.Adam(net.parameters(), lr=0.01)
            for _ in range(50):
                perm = torch.randperm(1000)
                for i in range(0, 1000, 32):
                    idx = perm[i:i + 32]
                    opt.zero_grad()
                    bce(net(xt[idx]), yt[idx]).backward()
                    opt.step()
            with torch.no_grad():
                losses.append(float(bce(net(xv), yv)))
        t = torch.tensor(losses)
        table[depth, width] = (float(t.mean()), float(t.std()))
print("seconds %.6f" % (time.perf_counter() - t0))
for (depth, width), (m, s) in table.items():
    print("depth %d width %d val_loss %.4f +- %.4f" % (depth, width, m, s))
