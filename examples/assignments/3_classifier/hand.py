# hand.py - the pen-and-paper derivation of dL/dw^1_{1,1} for sigmoid.nn,
# written out step by step with numbers (what a student writes on paper),
# to set beside `nnc explain`.   hand.py [GRAD.npz]: also compare with nnc.
import sys
import numpy as np

x = np.array([0.5, 0.5, 0.1]); y = np.array([0.9, 0.1])
W1 = np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]); b1 = np.array([0.1, 0.2])
W2 = np.array([[0.7, 0.9], [0.8, 0.1]]);           b2 = np.array([0.3, 0.4])
s = lambda z: 1 / (1 + np.exp(-z))

z1 = W1 @ x + b1; h = s(z1)
z2 = W2 @ h + b2; yh = s(z2)
L = 0.5 * np.sum((y - yh) ** 2)
print("forward:")
print(f"  z1 = W1 x + b1            = {z1}")
print(f"  h  = sigmoid(z1)          = {h}")
print(f"  z2 = W2 h + b2            = {z2}")
print(f"  yhat = sigmoid(z2)        = {yh}")
print(f"  L = 1/2 sum (y - yhat)^2  = {L:.10f}")
d2 = (yh - y) * yh * (1 - yh)
print("backward (chain rule, from the loss down to w^1_{1,1} = W1[0,0]):")
print(f"  dL/dz2_i = (yhat_i - y_i) yhat_i (1 - yhat_i)          = {d2}")
dh1 = W2[:, 0] @ d2
print(f"  dL/dh_1  = sum_i w^2_(i,1) dL/dz2_i = {W2[0,0]}*{d2[0]:.6f} + {W2[1,0]}*{d2[1]:.6f} = {dh1:.10f}")
dz11 = dh1 * h[0] * (1 - h[0])
print(f"  dL/dz1_1 = dL/dh_1 h_1 (1 - h_1)                        = {dz11:.10f}")
g = dz11 * x[0]
print(f"  dL/dw^1_(1,1) = dL/dz1_1 x_1 = {dz11:.10f} * {x[0]}      = {g:.10f}")
print(f"update with eta = 0.1: w^1_(1,1) = {W1[0,0]} - 0.1 * {g:.10f} = {W1[0,0] - 0.1 * g:.10f}")
if len(sys.argv) > 1:
    nnc = np.load(sys.argv[1])["W1"][0, 0]
    print(f"nnc's backward pass: dL/dW1[0,0] = {nnc:.10f} (difference {abs(nnc - g):.1e})")
    sys.exit(0 if abs(nnc - g) < 1e-12 else 1)
