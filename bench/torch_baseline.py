"""PyTorch baseline for `npm run bench`: the same MLP / CNN steps (plain SGD and a SAM step) as the
tfjs benchmark, timed per step. Prints one JSON object on stdout.

Usage: python torch_baseline.py --threads N --mlp-steps K --cnn-steps K [--mlp-warmup W] [--round R]
(W untimed MLP steps of each method first; R, the bench's round, sets which method's block runs first.)
The SAM step is the standard two-pass one (Foret et al.): g = grad L(w); e = rho g / ||g||;
w += e; g_p = grad L(w); w -= e; SGD step with g_p.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp():
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))


def sgd_step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def sam_step(model, opt, x, y, rho=0.05):
    params = [p for p in model.parameters()]
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    with torch.no_grad():
        norm = torch.sqrt(sum((p.grad * p.grad).sum() for p in params))
        scale = rho / (norm + 1e-12)
        eps = [p.grad * scale for p in params]
        for p, e in zip(params, eps):
            p.add_(e)
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    with torch.no_grad():
        for p, e in zip(params, eps):
            p.sub_(e)
    opt.step()
    return loss.item()


def time_steps(model, x, y, steps, warmup, round_index):
    """SGD and SAM steps on one model, each block back to back after `warmup` untimed steps of each
    (the order alternates with the round, as in the tfjs bench); per-step wall and CPU times in ms."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    fns = (("SGD", sgd_step), ("SAM", sam_step))
    times = {"SGD": [], "SAM": []}
    cpu = {"SGD": [], "SAM": []}
    for _ in range(warmup):
        for _, fn in fns:
            fn(model, opt, x, y)
    for name, fn in (fns if round_index % 2 == 0 else fns[::-1]):
        for _ in range(steps):
            c0 = time.process_time()
            t0 = time.perf_counter()
            fn(model, opt, x, y)
            times[name].append((time.perf_counter() - t0) * 1000)
            cpu[name].append((time.process_time() - c0) * 1000)
    return times, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--mlp-steps", type=int, default=100)
    ap.add_argument("--cnn-steps", type=int, default=20)
    ap.add_argument("--mlp-warmup", type=int, default=300)
    ap.add_argument("--round", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "results": {}, "cpu": {}}
    x = torch.randn(64, 2)
    y = torch.randint(0, 2, (64,))
    out["results"]["MLP"], out["cpu"]["MLP"] = time_steps(mlp(), x, y, a.mlp_steps, a.mlp_warmup, a.round)
    if a.cnn_steps > 0:
        x = torch.rand(64, 1, 28, 28)
        y = torch.randint(0, 10, (64,))
        out["results"]["CNN"], out["cpu"]["CNN"] = time_steps(cnn(), x, y, a.cnn_steps, 2, a.round)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
