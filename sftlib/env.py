"""What the course runs on: package versions and hardware, printed by every notebook's first cell."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version

import torch

from sftlib.models import pick_device, supports_bf16

PACKAGES = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "bitsandbytes",
            "evaluate", "tokenizers")


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each package (``"missing"`` when not installed)."""
    found = {}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found


def device_label() -> str:
    """The device a benchmark's results were measured on, as recorded beside them.

    The GPU's name, or the CPU with the threads torch computes with (``OMP_NUM_THREADS`` sets
    them; the lessons run with one): on a CPU the thread count changes the order of additions,
    so a seeded run gives other numbers with another count.

    Example:
        >>> device_label()  # doctest: +SKIP
        'cpu (1 thread)'
    """
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'' if threads == 1 else 's'})"


def environment_report() -> str:
    """A few lines naming Python, the key packages, the device, bf16 support and CPU threads.

    Example:
        >>> print(environment_report())  # doctest: +SKIP
        python 3.11.7 | torch 2.13.0+cpu | transformers 5.24.0 | ...
        device cpu (x86_64), bf16 yes, 2 CPU threads, SFT_PROFILE=(unset: tiny)
    """
    device = pick_device()
    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu"
    packages = " | ".join(f"{k} {v}" for k, v in versions().items())
    return (f"python {platform.python_version()} | {packages}\n"
            f"device {device.type} ({name}), bf16 {'yes' if supports_bf16(device) else 'no'}, "
            f"{torch.get_num_threads()} CPU threads, SFT_PROFILE="
            + os.environ.get("SFT_PROFILE", "(unset: tiny)"))
