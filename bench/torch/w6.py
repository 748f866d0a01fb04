"""W6 in PyTorch (docs/performance.md, make bench): LeNet-5 on Fashion-MNIST, Adam lr 1e-3,
batch 64, shuffled, EPOCHS epochs (argv[1], default 2), PyTorch's default init drawn
with the seed argv[2] (default 0).

Prints one line per epoch, "epoch E seconds S test_accuracy A", S the training time
of that epoch alone (no evaluation); 2 threads, denormals flushed.
"""
import sys, torch
import fashion

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(2)
torch.set_flush_denormal(True)
torch.manual_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
x, c = fashion.load("train")
xt, ct = fashion.load("t10k")
x, xt = x.reshape(-1, 1, 28, 28), xt.reshape(-1, 1, 28, 28)
nn = torch.nn
net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                    nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                    nn.Linear(84, 10))
opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
xent = nn.CrossEntropyLoss()
fashion.train(net, opt, xent, x, c, xt, ct, epochs)
