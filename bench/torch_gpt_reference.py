"""PyTorch reference for timing a small GPT training step on the CPU.

This file is a yardstick, not part of the course: it is the well-known
"nanoGPT" architecture (pre-LayerNorm decoder blocks, GELU MLP of width 4*d,
learned positional embeddings, tied input/output embeddings, no dropout)
trained with AdamW on random token batches, so that the course's Keras mini GPT
can be timed against the tool most learners would otherwise pick, on the same
machine, in the same run.

Run it in its own virtual environment (torch is not a course dependency);
`make bench` builds one (.venv-torch) and runs this file beside the Keras
benchmark (`python -m course.bench compare`). By hand, from the repository root:

    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch==2.13.0 numpy
    .venv-torch/bin/python bench/torch_gpt_reference.py --layers 4 --heads 4 \
        --d-model 128 --seq-len 64 --batch 12 --vocab 65 --steps 100

The last line it prints is machine-readable: `tokens_per_sec=<float> params=<int>`.
Defaults are nanoGPT's published CPU configuration for shakespeare_char.
"""

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.out = nn.Linear(4 * d_model, d_model)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab: int, seq_len: int, layers: int, heads: int, d_model: int):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        self.blocks = nn.Sequential(*[Block(d_model, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)
        self.head.weight = self.tok.weight  # tied, as in nanoGPT

    def forward(self, idx, targets):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
        logits = self.head(self.ln(self.blocks(x)))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    a = p.parse_args()

    torch.manual_seed(0)
    model = GPT(a.vocab, a.seq_len, a.layers, a.heads, a.d_model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    params = sum(p.numel() for p in model.parameters())

    def step():
        idx = torch.randint(0, a.vocab, (a.batch, a.seq_len))
        tgt = torch.randint(0, a.vocab, (a.batch, a.seq_len))
        loss = model(idx, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - start
    print(f"threads={torch.get_num_threads()} step_ms={1e3 * seconds / a.steps:.2f}")
    print(f"tokens_per_sec={a.batch * a.seq_len * a.steps / seconds:.1f} params={params}")


if __name__ == "__main__":
    main()
