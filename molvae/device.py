"""Where and in what arithmetic the network runs: device choice, mixed precision, torchrun ranks."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from molvae.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def cpu_has_native_bf16() -> bool:
    """True where oneDNN runs bf16 in hardware (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `name` on `device`; ``None`` means plain fp32."""
    if name not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    if name == "fp32":
        return None
    if device.type == "cuda":
        # auto = fp32 on GPUs: at molvae's sizes the step is bound by kernel launches, not arithmetic,
        # and bf16 measured slower (13.6k vs 15.7k molecules/s on an H100, docs/speed.md).
        if name == "auto":
            return None
        return torch.float16 if name == "fp16" else torch.bfloat16
    if name == "fp16":
        raise ConfigError("precision fp16 needs a CUDA device; use bf16 or fp32 on the CPU")
    if name == "bf16" or (name == "auto" and device.type == "cpu" and cpu_has_native_bf16()):
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """A mixed-precision context for `dtype` (a no-op for ``None``)."""
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def distributed_rank() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) when not launched by it."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))


def init_distributed(device_name: str) -> torch.device:
    """Join torchrun's process group when there is one; returns this rank's device."""
    _, world, local = distributed_rank()
    device = resolve_device(device_name)
    if world <= 1:
        return device
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device
