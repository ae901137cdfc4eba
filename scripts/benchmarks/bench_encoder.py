"""The encoder's two ways of running its bidirectional GRU, side by side: one call on a packed
batch (what CUDA uses) and one left-to-right pass per direction over the padded batch (what the
CPU uses, molvae.model.Encoder.final_states_by_direction).

    python scripts/benchmarks/bench_encoder.py                  # batch 512, SELFIES of 25-50 tokens
    python scripts/benchmarks/bench_encoder.py --batch 256 --repeats 5

Times the forward and backward of the encoder at the default sizes on random tokens, alternating
the two ways within each repeat so that both see the same machine load, checks that both give the
same final states, and prints the median seconds per batch and their ratio
(docs/bench/encoder.json keeps the last run).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py
from harness import add_side_by_side_flags, script_provenance, set_threads, side_by_side

from molvae.io import write_json
from molvae.model import VAE, ModelConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--min-len", type=int, default=25)
    ap.add_argument("--max-len", type=int, default=50)
    add_side_by_side_flags(ap, "docs/bench/encoder.json")
    args = ap.parse_args()
    threads = set_threads(args)
    torch.manual_seed(0)
    encoder = VAE(ModelConfig(), 110).encoder.train()
    lengths = torch.randint(args.min_len, args.max_len + 1, (args.batch,))
    tokens = torch.randint(4, 110, (args.batch, args.max_len))
    tokens[torch.arange(args.max_len)[None, :] >= lengths[:, None]] = 0
    ways = {"packed": encoder.final_states_packed, "by direction": encoder.final_states_by_direction}

    def step(way) -> torch.Tensor:
        encoder.zero_grad()
        h = way(encoder.embed(tokens), lengths)
        h.square().sum().backward()
        return h.detach()

    median, states = side_by_side({name: (lambda way=way: step(way)) for name, way in ways.items()}, args.repeats)
    torch.testing.assert_close(states["by direction"], states["packed"], rtol=1e-4, atol=1e-5)
    ratio = median["packed"] / median["by direction"]
    for name, seconds in median.items():
        print(f"{name:>13}: {seconds:.3f} s per batch of {args.batch} (forward + backward)")
    print(f"by direction is {ratio:.2f}x faster ({platform.processor() or platform.machine()}, "
          f"{threads} threads)")
    write_json(args.out, script_provenance(batch=args.batch, lengths=[args.min_len, args.max_len],
                                           repeats=args.repeats, threads=threads,
                                           seconds=median, ratio=round(ratio, 2)))


if __name__ == "__main__":
    main()
