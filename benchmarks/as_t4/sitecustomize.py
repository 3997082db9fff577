"""Make a larger GPU behave like a T4 to the course's code, for checking the lessons before a
Colab session: put this folder first on ``PYTHONPATH`` and every Python process started with it
(the notebook kernels of ``benchmarks/course_runtime.py`` too) sees

* no bf16: ``torch.cuda.is_bf16_supported()`` answers False, so ``load_model`` keeps float32
  weights, training runs in float32 and ``teach_world`` takes its fp16 autocast path;
* a T4's memory: each process may allocate at most ``SFT_T4_GIB`` GiB on the GPU (default 15,
  what a T4 offers of its 16 GB), set when CUDA starts.

The speed stays the card's own: minutes measured this way are not a T4's. ``docs/gpu.md`` ran the
lessons so::

    PYTHONPATH=benchmarks/as_t4 SFT_PROFILE=smollm2-135m+world \\
        python benchmarks/course_runtime.py --keep-going --save runs/ 02_templating

Python runs only the first ``sitecustomize`` it finds, so this one runs the one it hides.
"""

import importlib.util
import os
import sys

import torch

torch.cuda.is_bf16_supported = lambda including_emulation=True: False


def _t4_memory() -> None:
    total = torch.cuda.get_device_properties(0).total_memory  # bytes
    gib = float(os.environ.get("SFT_T4_GIB", "15"))
    torch.cuda.set_per_process_memory_fraction(min(1.0, gib * 2**30 / total))


torch.cuda._lazy_call(_t4_memory)  # runs when CUDA is first used, in each process

_here = os.path.dirname(os.path.abspath(__file__))
for _entry in sys.path:  # the sitecustomize this one hides (a distribution's own), if any
    _other = os.path.join(os.path.abspath(_entry or "."), "sitecustomize.py")
    if os.path.dirname(_other) != _here and os.path.isfile(_other):
        _spec = importlib.util.spec_from_file_location("_hidden_sitecustomize", _other)
        _spec.loader.exec_module(importlib.util.module_from_spec(_spec))
        break
