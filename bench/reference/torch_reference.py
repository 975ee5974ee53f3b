"""Reference trajectories of SAM, ASAM, GSAM and Adaptive-GSAM in PyTorch on the report's MLP.

Written for flatminima's cross-check (not a test dependency): each optimiser follows the two-pass step
of the official implementation it stands for (davda54/sam, SamsungLabs/ASAM, juntang-zhuang/GSAM), with
SGD + momentum + weight decay as the base optimiser. Writes the initial weights, the data and the weights
after every step as JSON, which bench/reference/compare.ts replays through flatminima's public API.

Usage: python3 bench/reference/torch_reference.py OUT.json [steps]
"""
import json
import math
import sys

import torch

torch.manual_seed(0)
import os
# REF_DTYPE=float64 runs the same trajectories in double precision, to see how fast float32 rounding alone drifts.
DTYPE = torch.float64 if os.environ.get("REF_DTYPE") == "float64" else torch.float32
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
LR, MOMENTUM, WD = 0.05, 0.9, 5e-4
RHO, ALPHA, ETA, GAMMA, EPS = 0.1, 0.3, 0.01, 0.01, 1e-12


def make_model():
    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Linear(2, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 2),
    ).to(DTYPE)


def moons(n, noise, seed):
    g = torch.Generator().manual_seed(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = torch.linspace(0, math.pi, n_out)
    t_in = torch.linspace(0, math.pi, n_in)
    x = torch.cat([torch.stack([torch.cos(t_out), torch.sin(t_out)], 1),
                   torch.stack([1 - torch.cos(t_in), 1 - torch.sin(t_in) - 0.5], 1)])
    y = torch.cat([torch.zeros(n_out, dtype=torch.long), torch.ones(n_in, dtype=torch.long)])
    x = x + noise * torch.randn(x.shape, generator=g)
    return x, y


def grads_of(model, loss_fn):
    model.zero_grad()
    loss = loss_fn()
    loss.backward()
    return loss.item()


def run(method, model, x, y):
    params = [p for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]
    base = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WD)
    loss_fn = lambda: torch.nn.functional.cross_entropy(model(x), y)
    history = []
    for _ in range(STEPS):
        grads_of(model, loss_fn)
        if method == "sgd":  # the base optimiser alone: shows how fast float32 rounding alone drifts
            base.step()
            history.append(weights(model))
            continue
        with torch.no_grad():
            g = [p.grad.clone() for p in params]
            if method in ("sam", "gsam"):  # davda54/sam first_step; GSAM perturb_weights
                norm = torch.norm(torch.stack([gi.norm(p=2) for gi in g]), p=2)
                e = [gi * (RHO / (norm + EPS)) for gi in g]
            elif method == "asam":  # SamsungLabs/ASAM ascent_step: T = |w| + eta on 'weight' params
                t = [(p.abs() + ETA) if "weight" in n else torch.ones_like(p) for n, p in zip(names, params)]
                tg = [ti * gi for ti, gi in zip(t, g)]
                norm = torch.norm(torch.stack([v.norm(p=2) for v in tg]), p=2)
                e = [ti * v * (RHO / (norm + EPS)) for ti, v in zip(t, tg)]
            elif method == "gsam_adaptive":  # GSAM's own adaptive=True: e = rho p^2 g / (||p g|| + eps)
                norm = torch.norm(torch.stack([(p.abs() * gi).norm(p=2) for p, gi in zip(params, g)]), p=2)
                e = [gi * (RHO / (norm + EPS)) * p.pow(2) for p, gi in zip(params, g)]
            elif method == "agsam":  # the report's elementwise climb
                norm = torch.norm(torch.stack([gi.norm(p=2) for gi in g]), p=2)
                e = [(p.abs() + GAMMA) * gi * (RHO / (norm + EPS)) for p, gi in zip(params, g)]
            old = [p.detach().clone() for p in params]
            for p, ei in zip(params, e):
                p.add_(ei)
        grads_of(model, loss_fn)
        with torch.no_grad():
            if method in ("gsam", "gsam_adaptive", "agsam"):  # GSAM gradient_decompose
                gp = [p.grad for p in params]
                inner = sum(torch.sum(gi * gpi) for gi, gpi in zip(g, gp))
                gp_norm = torch.norm(torch.stack([v.norm(p=2) for v in gp]), p=2)
                g_norm = torch.norm(torch.stack([v.norm(p=2) for v in g]), p=2)
                cosine = inner / (gp_norm * g_norm + EPS)
                for gi, gpi in zip(g, gp):
                    vertical = gi - cosine * g_norm * gpi / (gp_norm + EPS)
                    gpi.add_(vertical, alpha=-ALPHA)
            for p, o in zip(params, old):
                p.copy_(o)
        base.step()
        history.append(weights(model))
    return history


def as_tfjs(p):
    """A parameter in tfjs layout: dense kernels are [in, out] there, [out, in] here."""
    v = p.detach()
    return v.t().contiguous() if v.dim() == 2 else v


def weights(model):
    return [x for p in model.parameters() for x in as_tfjs(p).reshape(-1).tolist()]


def main():
    x, y = moons(64, 0.3, 2)
    x = x.to(DTYPE)
    init = make_model()
    result = {
        "config": {"lr": LR, "momentum": MOMENTUM, "weightDecay": WD, "rho": RHO, "alpha": ALPHA, "eta": ETA, "gamma": GAMMA, "steps": STEPS},
        "torch": torch.__version__,
        "x": x.reshape(-1).tolist(),
        "y": y.tolist(),
        "init": [{"shape": list(as_tfjs(p).shape), "values": as_tfjs(p).reshape(-1).tolist()} for p in init.parameters()],
        "trajectories": {},
    }
    for method in ("sgd", "sam", "asam", "gsam", "gsam_adaptive", "agsam"):
        model = make_model()
        result["trajectories"][method] = run(method, model, x, y)
    with open(sys.argv[1], "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
