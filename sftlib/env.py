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
