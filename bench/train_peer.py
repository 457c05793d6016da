# The PyTorch peer of bench_train: plain-training steps/s of the same two models, built layer for
# layer like pathgrad's (examples/grokking/model.hpp; examples/cifar2/model.hpp, whose PyTorch
# definition is bench/resnet9_torch.py), same batch, same dtype (float32), same thread count.
# Prints one JSON line in bench_train's format.
#
#   OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 bench/train_peer.py --model grokking --threads 1
#
# Run it with Debian's /usr/bin/python3 (python3-torch 1.13, CPU). Set OPENBLAS_NUM_THREADS and
# OMP_NUM_THREADS to the thread count as well: torch.set_num_threads does not reach the OpenBLAS
# that Debian's torch calls for matrix products (scripts/bench.sh does this).
import argparse
import json
import math
import os
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from resnet9_torch import ResNet9


class GrokkingTransformer(nn.Module):
    """examples/grokking/model.hpp: one attention layer (shared q/k/v per head, no biases, no
    positional encoding, no residual around attention), a residual ReLU MLP at the last position,
    a bias-free decoder, log-softmax."""

    def __init__(self, vocab=115, d_model=64, heads=4, d_head=16, d_mlp=512):
        super().__init__()
        self.d_model, self.heads, self.d_head = d_model, heads, d_head
        self.embed = nn.Embedding(vocab, d_model)
        self.qkv = nn.Linear(d_model, heads * d_head, bias=False)
        self.out = nn.Linear(heads * d_head, d_model, bias=False)
        self.fc1 = nn.Linear(d_model, d_mlp)
        self.fc2 = nn.Linear(d_mlp, d_model)
        self.decoder = nn.Linear(d_model, vocab, bias=False)

    def forward(self, tokens):
        B, T = tokens.shape
        x = self.embed(tokens) * math.sqrt(self.d_model)
        h = self.qkv(x).reshape(B, T, self.heads, self.d_head).permute(0, 2, 1, 3)  # [B, H, T, Dh]
        scores = torch.matmul(h, h.transpose(-2, -1)) * (1.0 / math.sqrt(self.d_head))
        a = torch.matmul(torch.softmax(scores, -1), h)  # [B, H, T, Dh]
        a = self.out(a.permute(0, 2, 1, 3).reshape(B, T, self.heads * self.d_head))
        a = a[:, -1]  # [B, D]
        h = a + F.relu(self.fc2(F.relu(self.fc1(a))))
        return F.log_softmax(self.decoder(h), 1)


def cifar_batch(path, batch):
    """The first `batch` cats/dogs of data_batch_1.bin, scaled to [0, 1] (timing only)."""
    raw = np.fromfile(os.path.join(path, "data_batch_1.bin"), dtype=np.uint8).reshape(-1, 3073)
    keep = raw[np.isin(raw[:, 0], (3, 5))][:batch]
    x = torch.from_numpy(keep[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    y = torch.from_numpy((keep[:, 0] == 5).astype(np.int64))
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["grokking", "cnn"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10, help="steps per timed repetition")
    ap.add_argument("--reps", type=int, default=5, help="repetitions; the best one counts")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=0, help="0: the model's default (4000 / 128)")
    ap.add_argument("--p", type=int, default=113)
    ap.add_argument("--width", type=int, default=16, help="cnn: width w of the paper's ResNet-9 (64 = the paper's)")
    ap.add_argument("--data", default="../shared/data/cifar10-catdog-bin")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.model == "grokking":
        batch = a.batch or 4000
        model = GrokkingTransformer(vocab=a.p + 2)
        g = torch.Generator().manual_seed(0)
        ab = torch.randint(0, a.p, (batch, 2), generator=g)
        x = torch.stack([ab[:, 0], torch.full((batch,), a.p), ab[:, 1], torch.full((batch,), a.p + 1)], 1)
        y = (ab[:, 0] + ab[:, 1]) % a.p
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-8, weight_decay=4.0)
        what = f"p={a.p}, batch {batch}"
    else:
        batch = a.batch or 128
        model = ResNet9(a.width)
        x, y = cifar_batch(a.data, batch)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        what = f"width {a.width}, batch {batch}"

    def step():
        opt.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    best = math.inf
    for _ in range(a.reps):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        best = min(best, (time.perf_counter() - t0) / a.steps)
    print(json.dumps({"impl": "pytorch", "model": a.model, "config": what, "threads": a.threads,
                      "parameters": sum(p.numel() for p in model.parameters()),
                      "step_ms": best * 1e3, "steps_per_s": 1.0 / best,
                      "torch": torch.__version__,
                      "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
