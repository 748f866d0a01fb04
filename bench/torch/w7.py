"""W7 in PyTorch (docs/performance.md, make bench): an Elman RNN over the 28 rows of each
Fashion-MNIST image (28 features a step, 128 hidden units, tanh), logits from the last
state, softmax cross-entropy (mean), Adam lr 1e-3, batch 64, shuffled, EPOCHS epochs
(argv[1], default 1).

argv[2] = "loop": the loop over time written out, as courses write it (nn.Linear for
W_x x_t + b and W_h h, h_0 = 0); "rnn": torch.nn.RNN (tanh, batch_first).  Prints one
line per epoch, "epoch E seconds S test_accuracy A", S the training time alone.  2
threads, denormals flushed.
"""
import sys, torch
import fashion

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
form = sys.argv[2] if len(sys.argv) > 2 else "loop"
torch.set_num_threads(2)
torch.set_flush_denormal(True)
torch.manual_seed(0)
x, c = fashion.load("train")
xt, ct = fashion.load("t10k")
x, xt = x.view(-1, 28, 28), xt.view(-1, 28, 28)
H = 128


class Loop(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wx = torch.nn.Linear(28, H)
        self.wh = torch.nn.Linear(H, H, bias=False)
        self.out = torch.nn.Linear(H, 10)

    def forward(self, img):
        h = torch.zeros(img.shape[0], H)
        for t in range(28):
            h = torch.tanh(self.wx(img[:, t]) + self.wh(h))
        return self.out(h)


class Rnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.RNN(28, H, batch_first=True)
        self.out = torch.nn.Linear(H, 10)

    def forward(self, img):
        _, h = self.rnn(img)
        return self.out(h[0])


net = Loop() if form == "loop" else Rnn()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
xent = torch.nn.CrossEntropyLoss()
fashion.train(net, opt, xent, x, c, xt, ct, epochs)
