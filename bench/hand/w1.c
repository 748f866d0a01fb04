/*
 * w1.c - benchmark W1 written by hand: the practical limit for a compiler
 * that knows every shape.  Static sizes, samples innermost (so the
 * compiler vectorises over the batch), one full-batch gradient step per
 * epoch.  Prints the seconds for EPOCHS epochs and the final loss.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N 1000
#define H 10
#define EPOCHS 2000

static float x0[N], x1[N], y[N];
static float z1[H][N], a1[H][N], z2[H][N], a2[H][N], d[N], d2[H][N], d1[H][N];
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
        for (int i = 0; i < H; i++)
            for (int n = 0; n < N; n++) {
                z1[i][n] = W1[i][0] * x0[n] + W1[i][1] * x1[n] + b1[i];
                a1[i][n] = z1[i][n] > 0 ? z1[i][n] : 0;
            }
        for (int i = 0; i < H; i++) {
            for (int n = 0; n < N; n++)
                z2[i][n] = b2[i];
            for (int j = 0; j < H; j++)
                for (int n = 0; n < N; n++)
                    z2[i][n] += W2[i][j] * a1[j][n];
            for (int n = 0; n < N; n++)
                a2[i][n] = z2[i][n] > 0 ? z2[i][n] : 0;
        }
        loss = 0;
        for (int n = 0; n < N; n++) {   /* (loss is reported once; scalar is fine) */
            float o = b3;
            for (int i = 0; i < H; i++)
                o += W3[i] * a2[i][n];
            d[n] = (o - y[n]) * s;
            loss += 0.5 * (o - y[n]) * (o - y[n]) * s;
        }
        /* Sums over the samples are vectorised reductions: `omp simd
         * reduction` allows reassociating them without -ffast-math. */
        float gb3 = 0, gW3[H], gb2[H], gW2[H][H], gb1[H], gW1[H][2];
#pragma omp simd reduction(+:gb3)
        for (int n = 0; n < N; n++)
            gb3 += d[n];
        for (int i = 0; i < H; i++) {
            float sw = 0, sb = 0;
#pragma omp simd reduction(+:sw, sb)
            for (int n = 0; n < N; n++) {
                sw += d[n] * a2[i][n];
                d2[i][n] = z2[i][n] > 0 ? d[n] * W3[i] : 0;
                sb += d2[i][n];
            }
            gW3[i] = sw;
            gb2[i] = sb;
        }
        for (int j = 0; j < H; j++) {
            for (int n = 0; n < N; n++)
                d1[j][n] = 0;
            for (int i = 0; i < H; i++) {
                float sw = 0;
#pragma omp simd reduction(+:sw)
                for (int n = 0; n < N; n++) {
                    sw += d2[i][n] * a1[j][n];
                    d1[j][n] += W2[i][j] * d2[i][n];
                }
                gW2[i][j] = sw;
            }
            float sb = 0, s0 = 0, s1 = 0;
#pragma omp simd reduction(+:sb, s0, s1)
            for (int n = 0; n < N; n++) {
                d1[j][n] = z1[j][n] > 0 ? d1[j][n] : 0;
                sb += d1[j][n];
                s0 += d1[j][n] * x0[n];
                s1 += d1[j][n] * x1[n];
            }
            gb1[j] = sb;
            gW1[j][0] = s0;
            gW1[j][1] = s1;
        }
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
