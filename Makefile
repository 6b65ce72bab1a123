# ganctl: `make demo` trains and evaluates a GAN on the 8-Gaussian ring; `make test` runs the test suite.
# Both create .venv and install only what is missing. `make bench` prints training and metric speed against
# plain PyTorch and numpy/scipy code.
#
# On a GPU machine, install a CUDA build of torch instead of the CPU one, e.g.:
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cu128
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ganctl-installed
TORCH_ARGS := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

.PHONY: setup demo test test-quick data bench bench-modes bench-images clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_ARGS) "$(TORCH)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

setup: $(STAMP)

demo: setup
	$(VENV)/bin/ganctl train name=demo

# The whole suite, one test per core at a time (pytest-xdist; about 6 minutes on 2 AVX-512 cores, 11 on AVX2 ones;
# twice as fast as one at a time: `make test TEST_ARGS=` runs them in one process). `make test-quick` leaves out the
# tests marked slow, for the edit loop.
TEST_ARGS ?= -n auto
test: setup
	$(PY) -m pytest $(TEST_ARGS)

test-quick: setup
	$(PY) -m pytest -n auto -m "not slow"

# Metric speed against numpy/scipy (docs/performance.md, "Metrics"). The defaults suit a 2-core CPU (about 5 minutes);
# on a GPU machine `make bench METRICS_ARGS="--inception"` runs the issue's sizes (n = 10k, 50k; KID's 100 subsets).
METRICS_ARGS ?= --n 2500 10000 --repeat 1 --kid-subsets 10 --budget 30 --inception --images 16 --batch-size 8
# Training speed against the PyTorch DCGAN example's loop (docs/performance.md, "Training"). The script picks sizes
# by device: on a CPU one short DCGAN batch size and the 2-D MLP; on a GPU batch 64, 128 and 512 with every option.
TRAIN_ARGS ?=
bench: setup
	$(PY) benchmarks/train_speed.py $(TRAIN_ARGS)
	$(PY) benchmarks/metrics.py $(METRICS_ARGS)

# The mode-coverage benchmark (docs/benchmarks.md): every remedy x seeds on PacGAN's 2D-ring and 2D-grid, as one Hydra
# multirun over +experiment (the protocol) and +modes (each method's benchmark settings, conf/modes/), then `ganctl
# report` with standard errors. On a CPU, one torch thread per job and one job per core is fastest.
MODES_METHODS ?= nsgan,pacgan2,pacgan3,pacgan4,minibatch,unrolled,dragan,ebgan,madgan,mrgan,mdgan
MODES_DATA ?= modes_ring8,modes_grid25
MODES_SEEDS ?= 0,1,2
MODES_ARGS ?=
MODES_JOBS ?= 2
MODES_DIR ?= outputs/benchmarks/modes
# The image benchmark (docs/benchmarks.md, "Images"): GAN objectives and the remedies that apply to images on
# Fashion-MNIST (Debian's package, `make data`), 2 seeds, in the space of the Fashion-MNIST classifier (made first when
# missing); then the real-vs-real reference and `ganctl report`. Run from the repository. Every method gets the same
# CPU budget, IMAGES_MINUTES of training at one torch thread (two jobs at once on 2 cores), and otherwise the recipe
# of `ganctl train data=fashion_mnist`: its nets, batch, precision and average, and its Adam for the methods without
# an optimiser of their own (nsgan, pacgan2, minibatch); batch and rates follow the processor
# (conf/data_defaults/images.yaml), so the table names its machine. A method that takes 5 D steps a step (hinge,
# wgan_gp) makes fewer G steps in the same minutes: the table's steps column says how many.
IMAGES_METHODS ?= nsgan,lsgan,hinge,wgan_gp,pacgan2,minibatch,dragan,madgan
IMAGES_SEEDS ?= 0,1
IMAGES_MINUTES ?= 6
IMAGES_JOBS ?= 2
IMAGES_DIR ?= outputs/benchmarks/images

bench-images: setup
	test -f outputs/classifiers/fashion_mnist.pt || $(VENV)/bin/ganctl classifier data=fashion_mnist
	start=$$(date +%s) && \
	OMP_NUM_THREADS=1 $(VENV)/bin/ganctl train -m data=fashion_mnist method=$(IMAGES_METHODS) seed=$(IMAGES_SEEDS) \
	  train.minutes=$(IMAGES_MINUTES) train.threads=1 train.progress=false hydra/launcher=joblib \
	  hydra.launcher.n_jobs=$(IMAGES_JOBS) hydra.sweep.dir=$(IMAGES_DIR) && \
	echo "bench-images: $$(( $$(date +%s) - start )) s of wall time on $$(nproc --all) cores, $(IMAGES_JOBS) jobs at once"
	$(PY) benchmarks/image_reference.py data=fashion_mnist > $(IMAGES_DIR)/reference.json
	$(VENV)/bin/ganctl report --spread sem $(IMAGES_DIR)
	$(PY) benchmarks/images_table.py $(IMAGES_DIR)/report.json $(IMAGES_DIR)/reference.json raw

bench-modes: setup
	start=$$(date +%s) && \
	OMP_NUM_THREADS=1 $(VENV)/bin/ganctl train -m seed=$(MODES_SEEDS) +experiment=$(MODES_DATA) +modes=$(MODES_METHODS) \
	  train.progress=false hydra/launcher=joblib hydra.launcher.n_jobs=$(MODES_JOBS) hydra.sweep.dir=$(MODES_DIR) \
	  $(MODES_ARGS) && \
	$(VENV)/bin/ganctl report --spread sem $(MODES_DIR) && \
	echo "bench-modes: $$(( $$(date +%s) - start )) s of wall time on $$(nproc --all) cores, $(MODES_JOBS) jobs at once"

# Real images for the image benchmark: Debian's dataset-fashion-mnist package puts Fashion-MNIST's four IDX files in
# /usr/share/datasets/fashion-mnist, where data=fashion_mnist and data=stacked_fashion_mnist look by default.
FASHION_MNIST := /usr/share/datasets/fashion-mnist
data:
	@if [ -f $(FASHION_MNIST)/train-images-idx3-ubyte.gz ]; then echo "Fashion-MNIST is in $(FASHION_MNIST)"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y dataset-fashion-mnist; \
	else echo "no apt-get here: put Fashion-MNIST's four IDX files (train-images-idx3-ubyte.gz, ...) in a folder and" \
	  "train with data=fashion_mnist data.path=THAT_FOLDER"; exit 1; fi

clean-venv:
	rm -rf $(VENV)
