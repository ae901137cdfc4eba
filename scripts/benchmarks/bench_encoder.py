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
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py
from harness import script_provenance

from molvae.io import write_json
from molvae.model import VAE, ModelConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--min-len", type=int, default=25)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    ap.add_argument("--out", type=Path, default=Path("docs/bench/encoder.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    encoder = VAE(ModelConfig(), 110).encoder.train()
    lengths = torch.randint(args.min_len, args.max_len + 1, (args.batch,))
    tokens = torch.randint(4, 110, (args.batch, args.max_len))
    tokens[torch.arange(args.max_len)[None, :] >= lengths[:, None]] = 0
    ways = {"packed": encoder.final_states_packed, "by direction": encoder.final_states_by_direction}

    def step(way) -> tuple[float, torch.Tensor]:
        start = time.perf_counter()
        h = way(encoder.embed(tokens), lengths)
        h.square().sum().backward()
        return time.perf_counter() - start, h.detach()

    times = {name: [] for name in ways}
    states = {}
    for repeat in range(args.repeats + 1):  # the first round warms up and is not counted
        for name, way in ways.items():
            encoder.zero_grad()
            seconds, states[name] = step(way)
            if repeat:
                times[name].append(seconds)
    torch.testing.assert_close(states["by direction"], states["packed"], rtol=1e-4, atol=1e-5)
    median = {name: statistics.median(t) for name, t in times.items()}
    ratio = median["packed"] / median["by direction"]
    for name, seconds in median.items():
        print(f"{name:>13}: {seconds:.3f} s per batch of {args.batch} (forward + backward)")
    print(f"by direction is {ratio:.2f}x faster ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads)")
    write_json(args.out, script_provenance(batch=args.batch, lengths=[args.min_len, args.max_len],
                                           repeats=args.repeats, threads=torch.get_num_threads(),
                                           seconds=median, ratio=round(ratio, 2)))


if __name__ == "__main__":
    main()
