"""W2 in PyTorch (docs/performance.md, make bench): AutoEncNetLite, SGD batch 20, 1000 updates.

Prints "seconds S loss L": S for the 1000 updates (training only), L the sum of
squared errors over the 60000 training images afterwards (what nnc's trainer
reports as the epoch's loss with reduce = sum).
"""
import time, torch
import fashion

torch.set_num_threads(2)
torch.set_flush_denormal(True)
torch.manual_seed(0)
x, _ = fashion.load("train")


class AutoEncNetLite(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(784, 128)
        self.rec = torch.nn.Linear(128, 128)
        self.link = torch.nn.Linear(128, 32, bias=False)
        self.out = torch.nn.Linear(32, 784)
        for m in (self.inp, self.link, self.out):
            torch.nn.init.xavier_uniform_(m.weight)
        for m in (self.inp, self.out):
            torch.nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.rec.weight.copy_(torch.eye(128))
            self.rec.bias.zero_()
        self.rec.requires_grad_(False)

    def forward(self, v):
        h = torch.tanh(self.inp(v))
        h = torch.tanh(self.rec(h))
        return self.out(torch.tanh(self.link(h)))


net = AutoEncNetLite()
opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.001)
t0 = time.perf_counter()
for step in range(1000):
    i = (step * 20) % 20000
    xb = x[i:i + 20]
    opt.zero_grad()
    ((net(xb) - xb) ** 2).sum().backward()
    opt.step()
secs = time.perf_counter() - t0
with torch.no_grad():
    loss = sum(float(((net(x[i:i + 1000]) - x[i:i + 1000]) ** 2).sum()) for i in range(0, 60000, 1000))
print("seconds %.6f loss %.6g" % (secs, loss))
