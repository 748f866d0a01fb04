/*
 * w1.c - benchmark W1 written by hand: the practical limit for a compiler
 * that knows every shape.  Static sizes; one full-batch gradient step per
 * epoch.  How it is made fast, in plain C (no intrinsics, no -ffast-math):
 *
 *  - samples innermost: every per-sample value is a row of T samples, so
 *    each loop over the samples is vectorised with the machine's SIMD width;
 *  - the batch runs in tiles of T samples, forward and backward one tile
 *    after the other, so the tile's activations and adjoints (a few KiB)
 *    stay in the L1 cache and the gradients' sums over the samples are
 *    short, independent chains;
 *  - everything fused: a layer's product, bias and ReLU are one loop (a
 *    sum over the 2 or 10 inputs per sample, kept in a register), and the
 *    backward pass computes the ReLU mask, the bias gradient and the
 *    adjoint of the layer below in the same loops;
 *  - sums over the samples are `omp simd reduction`s (-fopenmp-simd),
 *    which let the compiler vectorise them without -ffast-math.
 *
 * Build: cc -O3 -march=native -fopenmp-simd w1.c -lm.  Prints the seconds
 * of the training loop and the final loss; `make bench` times the whole
 * process, as it does nnc's trainer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N 1000
#define H 10
#define T 40          /* samples per tile; N is a multiple */
#define EPOCHS 2000

static float x0[N], x1[N], y[N];
static float W1[H][2], b1[H], W2[H][H], b2[H], W3[H], b3;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(void)
{
    srand(1);
    for (int n = 0; n < N; n++) {
        x0[n] = 2.0f * rand() / RAND_MAX - 1;
        x1[n] = 2.0f * rand() / RAND_MAX - 1;
        y[n] = sinf(3 * x0[n]) * cosf(2 * x1[n]);
    }
    for (int i = 0; i < H; i++) {
        W1[i][0] = 0.5f * rand() / RAND_MAX - 0.25f;
        W1[i][1] = 0.5f * rand() / RAND_MAX - 0.25f;
        W3[i] = 0.5f * rand() / RAND_MAX - 0.25f;
        for (int j = 0; j < H; j++)
            W2[i][j] = 0.5f * rand() / RAND_MAX - 0.25f;
    }
    const float lr = 0.01f, s = 1.0f / N;
    double t0 = now(), loss = 0;
    for (int e = 0; e < EPOCHS; e++) {
        float gb3 = 0, gW3[H] = {0}, gb2[H] = {0}, gW2[H][H] = {0}, gb1[H] = {0};
        float gW1[H][2] = {0}, sq = 0;
        for (int t = 0; t < N; t += T) {
            const float *u = x0 + t, *v = x1 + t, *yt = y + t;
            float a1[H][T], a2[H][T], d[T], d2[H][T];
            /* forward: a1 = relu(W1 x + b1), a2 = relu(W2 a1 + b2) */
            for (int i = 0; i < H; i++)
                for (int b = 0; b < T; b++) {
                    float z = W1[i][0] * u[b] + W1[i][1] * v[b] + b1[i];
                    a1[i][b] = z > 0 ? z : 0;
                }
            for (int i = 0; i < H; i++)
                for (int b = 0; b < T; b++) {
                    float z = b2[i];
                    for (int j = 0; j < H; j++)
                        z += W2[i][j] * a1[j][b];
                    a2[i][b] = z > 0 ? z : 0;
                }
            /* the output, the loss and its adjoint d = (o - y) / N */
#pragma omp simd reduction(+:sq, gb3)
            for (int b = 0; b < T; b++) {
                float o = b3;
                for (int i = 0; i < H; i++)
                    o += W3[i] * a2[i][b];
                float r = o - yt[b];
                sq += r * r;
                d[b] = r * s;
                gb3 += d[b];
            }
            /* backward through layer 3 and the second ReLU (a2 > 0 iff z2 > 0) */
            for (int i = 0; i < H; i++) {
                float sw = 0, sb = 0;
#pragma omp simd reduction(+:sw, sb)
                for (int b = 0; b < T; b++) {
                    float g = d[b] * W3[i];
                    g = a2[i][b] > 0 ? g : 0;
                    d2[i][b] = g;
                    sw += d[b] * a2[i][b];
                    sb += g;
                }
                gW3[i] += sw;
                gb2[i] += sb;
            }
            for (int i = 0; i < H; i++)
                for (int j = 0; j < H; j++) {
                    float sw = 0;
#pragma omp simd reduction(+:sw)
                    for (int b = 0; b < T; b++)
                        sw += d2[i][b] * a1[j][b];
                    gW2[i][j] += sw;
                }
            /* backward through layer 2 and the first ReLU, then layer 1 */
            for (int j = 0; j < H; j++) {
                float sb = 0, s0 = 0, s1 = 0;
#pragma omp simd reduction(+:sb, s0, s1)
                for (int b = 0; b < T; b++) {
                    float g = 0;
                    for (int i = 0; i < H; i++)
                        g += W2[i][j] * d2[i][b];
                    g = a1[j][b] > 0 ? g : 0;
                    sb += g;
                    s0 += g * u[b];
                    s1 += g * v[b];
                }
                gb1[j] += sb;
                gW1[j][0] += s0;
                gW1[j][1] += s1;
            }
        }
        loss = 0.5 * sq * s;
        b3 -= lr * gb3;
        for (int i = 0; i < H; i++) {
            W3[i] -= lr * gW3[i];
            b2[i] -= lr * gb2[i];
            b1[i] -= lr * gb1[i];
            W1[i][0] -= lr * gW1[i][0];
            W1[i][1] -= lr * gW1[i][1];
            for (int j = 0; j < H; j++)
                W2[i][j] -= lr * gW2[i][j];
        }
    }
    printf("seconds %.6f loss %.6f\n", now() - t0, loss);
    return 0;
}
