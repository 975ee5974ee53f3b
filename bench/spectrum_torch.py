"""PyTorch side of `npm run bench:spectrum`: the same Hessian measures on the same CNN, weights and
examples as bench/spectrum.ts, timed. Prints one JSON object on stdout.

Usage: python spectrum_torch.py --data FILE --threads N --chunk-size C --tol T --k K
                                --trace-samples S --density-runs R --density-iterations M

FILE (written by bench/spectrum.ts) holds a JSON header line and then float32 arrays: the tfjs CNN's
weights in tfjs layout and the examples (NHWC) with their labels. The model is rebuilt here with
PyTorch's layers: conv kernels [kh, kw, in, out] become [out, in, kh, kw], dense kernels [in, out]
become [out, in], and the activations are flattened in NHWC order as tfjs does.

Hessian-vector products are exact (double back-propagation, summed over chunks of C examples, each
weighted by its share of the mean loss). The measures follow the algorithms of PyHessian
(amirgholami/PyHessian, pyhessian/hessian.py): power iteration for the top eigenvalue, its deflated
power iteration for the top k, Hutchinson's estimator with Rademacher probes for the trace, and
stochastic Lanczos quadrature with full re-orthogonalisation for the density; plus Lanczos with full
re-orthogonalisation for the top k, the algorithm flatminima uses, so both ways are timed.
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.permute(0, 2, 3, 1).flatten(1)  # NHWC order, as tfjs flattens
        return self.fc2(F.relu(self.fc1(x)))


def load(path):
    with open(path, "rb") as f:
        header = json.loads(f.readline())
        raw = np.frombuffer(f.read(), dtype=np.float32)
    arrays, offset = [], 0
    for shape in header["shapes"]:
        size = int(np.prod(shape))
        arrays.append(raw[offset:offset + size].reshape(shape))
        offset += size
    return header, arrays


def build(header, arrays):
    model = Cnn()
    w = [torch.from_numpy(a.copy()) for a in arrays[:8]]
    with torch.no_grad():
        model.conv1.weight.copy_(w[0].permute(3, 2, 0, 1))
        model.conv1.bias.copy_(w[1])
        model.conv2.weight.copy_(w[2].permute(3, 2, 0, 1))
        model.conv2.bias.copy_(w[3])
        model.fc1.weight.copy_(w[4].t())
        model.fc1.bias.copy_(w[5])
        model.fc2.weight.copy_(w[6].t())
        model.fc2.bias.copy_(w[7])
    x = torch.from_numpy(arrays[8].copy()).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    y = torch.from_numpy(arrays[9].copy()).long()
    return model.eval(), x, y


class Hessian:
    """H v of the mean cross-entropy over all examples, chunk by chunk."""

    def __init__(self, model, x, y, chunk):
        self.model, self.x, self.y, self.chunk = model, x, y, chunk
        self.params = [p for p in model.parameters()]
        self.products = 0

    def hvp(self, v):
        n = self.x.shape[0]
        out = [torch.zeros_like(p) for p in self.params]
        for s in range(0, n, self.chunk):
            xs, ys = self.x[s:s + self.chunk], self.y[s:s + self.chunk]
            loss = F.cross_entropy(self.model(xs), ys) * (xs.shape[0] / n)
            grads = torch.autograd.grad(loss, self.params, create_graph=True)
            hv = torch.autograd.grad(grads, self.params, grad_outputs=v)
            out = [o + h for o, h in zip(out, hv)]
        self.products += 1
        return out


def dot(a, b):
    return sum(float((x * y).sum()) for x, y in zip(a, b))


def normalized(v):
    n = dot(v, v) ** 0.5
    return [t / n for t in v]


def orthogonalized(w, basis):
    for _ in range(2):  # classical Gram-Schmidt, twice
        coeffs = [dot(q, w) for q in basis]
        for c, q in zip(coeffs, basis):
            w = [a - c * b for a, b in zip(w, q)]
    return w


def power_iteration(h, tol, max_iter, vectors=()):
    """PyHessian's power iteration (deflated against `vectors`), our stopping rule |dλ| <= tol|λ|."""
    v = normalized([torch.randn_like(p) for p in h.params])
    value = None
    for _ in range(max_iter):
        v = normalized(orthogonalized(v, list(vectors)))
        hv = h.hvp(v)
        lam = dot(v, hv)
        v = normalized(hv)
        if value is not None and abs(lam - value) <= tol * abs(lam):
            value = lam
            break
        value = lam
    return value, v


def top_k_deflated(h, k, tol, max_iter):
    values, vectors = [], []
    for _ in range(k):
        value, v = power_iteration(h, tol, max_iter, vectors)
        values.append(value)
        vectors.append(v)
    return values


def lanczos(h, start, steps, stop=None):
    """Lanczos with full re-orthogonalisation; returns (alphas, betas) of T and the last residual norm."""
    basis, alphas, betas = [normalized(start)], [], []
    beta = 0.0
    for j in range(steps):
        q = basis[-1]
        w = h.hvp(q)
        alpha = dot(q, w)
        alphas.append(alpha)
        w = [a - alpha * b for a, b in zip(w, q)]
        if j > 0:
            w = [a - betas[-1] * b for a, b in zip(w, basis[-2])]
        w = orthogonalized(w, basis)
        beta = dot(w, w) ** 0.5
        if stop is not None and stop(alphas, betas, beta):
            break
        if j + 1 < steps:
            betas.append(beta)
            basis.append([t / beta for t in w])
    return alphas, betas, beta


def tridiagonal(alphas, betas):
    m = len(alphas)
    t = np.diag(alphas)
    for i in range(m - 1):
        t[i, i + 1] = t[i + 1, i] = betas[i]
    return np.linalg.eigh(t)


def top_k_lanczos(h, k, tol, max_iter):
    found = {}

    def stop(alphas, betas, beta):
        if len(alphas) < k:
            return False
        vals, vecs = tridiagonal(alphas, betas)
        order = np.argsort(vals)[::-1][:k]
        scale = np.max(np.abs(vals))
        found["values"] = [float(vals[i]) for i in order]
        return all(beta * abs(vecs[-1, i]) <= tol * scale for i in order)

    lanczos(h, [torch.randn_like(p) for p in h.params], max_iter, stop)
    return found["values"]


def rademacher(params):
    return [torch.randint_like(p, high=2) * 2 - 1 for p in params]


def hutchinson(h, samples):
    values = []
    for _ in range(samples):
        z = rademacher(h.params)
        values.append(dot(z, h.hvp(z)))
    return float(np.mean(values))


def density(h, runs, steps):
    ritz = []
    for _ in range(runs):
        alphas, betas, _ = lanczos(h, rademacher(h.params), steps)
        vals, vecs = tridiagonal(alphas, betas)
        ritz.append({"ritzValues": vals.tolist(), "weights": (vecs[0, :] ** 2).tolist()})
    return ritz


def timed(h, fn):
    h.products = 0
    c0, t0 = time.process_time(), time.perf_counter()
    value = fn()
    return {"seconds": time.perf_counter() - t0, "cpuSeconds": time.process_time() - c0, "products": h.products, "value": value}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--chunk-size", type=int, required=True)
    ap.add_argument("--tol", type=float, required=True)
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--trace-samples", type=int, required=True)
    ap.add_argument("--density-runs", type=int, required=True)
    ap.add_argument("--density-iterations", type=int, required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    header, arrays = load(a.data)
    model, x, y = build(header, arrays)
    h = Hessian(model, x, y, a.chunk_size)
    with torch.no_grad():
        loss = float(F.cross_entropy(model(x), y))
    h.hvp([torch.randn_like(p) for p in h.params])  # warm-up
    single, single_cpu = [], []
    for _ in range(3):
        v = [torch.randn_like(p) for p in h.params]
        c0, t0 = time.process_time(), time.perf_counter()
        h.hvp(v)
        single.append(time.perf_counter() - t0)
        single_cpu.append(time.process_time() - c0)
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "loss": loss,
        "hvpSeconds": float(np.median(single)),
        "hvpCpuSeconds": float(np.median(single_cpu)),
        "measures": {
            "top-1 power": timed(h, lambda: power_iteration(h, a.tol, 100)[0]),
            "top-1 Lanczos": timed(h, lambda: top_k_lanczos(h, 1, a.tol, 100)),
            f"top-{a.k} Lanczos": timed(h, lambda: top_k_lanczos(h, a.k, a.tol, 100)),
            f"top-{a.k} deflated power": timed(h, lambda: top_k_deflated(h, a.k, a.tol, 100)),
            "trace": timed(h, lambda: hutchinson(h, a.trace_samples)),
            "density": timed(h, lambda: density(h, a.density_runs, a.density_iterations)),
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
