"""Seeds per hour for the `tiny` presets: today's training step against each candidate way to train more seeds.

    python bench/seeds_bench.py --train-data WORLD/captions/train.csv [--rounds 4] [--chunk 10] [--skip 10]

Every method trains the demo's recipe (`tiny`, batch 64, lr 1e-3, CLIP loss, the caption table decoded once into
memory, channels_last) on one torch thread — the demo trains one run per core — through the trainer's own code
(`loop._setup`, `loop._optimizer_step`) on the same CSV, all in ONE process: each method first takes ``--skip``
warm-up steps (torch.compile compiles there), then every round runs ``--chunk`` steps of each method in turn
(the order reversed every other round), so a slow spell of the shared machine hits all methods alike. Per method
and round: wall and thread-CPU time per step, and minor page faults per step. Methods:

- ``eager``: today's path.
- ``compile``: the model's forward (and so its backward) compiled by torch.compile (inductor, C++ on the CPU);
  the loss and the fused AdamW step stay eager. Not bitwise-equal to eager (fused kernels sum in another order).
- ``active-rows``: exact, and the only method here that is: the token embedding (49,408 × 128, 79% of the
  parameters) trained as a parameter of the rows the training captions use (147 on the world), its other rows
  scaled by 1 − lr·wd after each step — which is what AdamW does to a row whose gradient is exactly 0 (its
  moments stay 0). This saves the dense 25 MB gradient and AdamW's pass over the unused rows;
  tests/test_seeds_bench.py checks bitwise equality with eager. Not wired into the trainer (see bench/README.md).
- ``vmapK`` (``vmap2``, ``vmap4``): K seeds as one batched model — torch.func.stack_module_state, functional_call
  and vmap of grad over the K copies; BatchNorm's running statistics are stacked buffers that each copy updates in
  place; the text is cut at the K batches' longest caption; one fused AdamW over the stacked parameters. Each
  seed reads its own batches (its own sampler), as K separate runs would. A step trains K seeds.
- ``batch256`` (a diagnostic, not a candidate: other results): one model at batch 256 — the same kernels a
  4-seed batched model would run, without the seed dimension — the most batching 4 seeds' work could gain.
  Its step counts as 4 seeds' steps.

Per-seed step time = step time / seeds per step; seeds per hour = 2 cores × 3,600 s / (2,000 steps × per-seed
step time + warm-up / seeds per step): the demo's 8-epoch budget, one run per core. Ratios are eager's per-seed
time over the method's, within a round, median over rounds. It prints a JSON line per round and a table.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

DEMO_STEPS = 2000  # the default demo budget: 8 epochs of the 16,000-pair world at batch 64
CORES = 2


def _train_config(train_data: str, seed: int, logs: Path, batch_size: int = 64) -> Any:
    from cyclip_bench.train import TrainConfig

    return TrainConfig.from_sources(
        None,
        train_data=train_data,
        model="tiny",
        loss="clip",
        epochs=8,
        batch_size=batch_size,
        lr=1e-3,
        warmup=50,
        seed=seed,
        name=f"bench-s{seed}-b{batch_size}",
        logs=str(logs),
        workers=0,
        progress=False,
        precision="fp32",
        device="cpu",
    )


def _setup(train_data: str, seed: int, logs: Path, batch_size: int = 64) -> tuple[Any, Any]:
    """The trainer's own run (model, optimiser, in-memory data) and its first epoch's batches."""
    from cyclip_bench.runtime import init_distributed
    from cyclip_bench.train import loop

    run, data, _, _ = loop._setup(_train_config(train_data, seed, logs, batch_size), init_distributed("cpu"), None)
    data.prepare()
    return run, iter(data.make_loader(0, 0))


Builder = Callable[[str, Path], tuple[Callable[[], None], int]]


def _single(prepare: Callable[[Any], None], batch_size: int = 64) -> Builder:
    """A one-model method: the trainer's optimiser step after ``prepare(run)``; counts as batch/64 seeds."""

    def build(train_data: str, logs: Path) -> tuple[Callable[[], None], int]:
        from cyclip_bench.train import loop

        run, batches = _setup(train_data, 0, logs, batch_size)
        prepare(run)
        return (lambda: loop._optimizer_step(run, batches)), batch_size // 64

    return build


def _compile(run: Any) -> None:
    run.model = torch.compile(run.raw_model)


def _active_rows(run: Any) -> None:
    """Train only the token-embedding rows the captions use; scale the others as AdamW would (module doc)."""
    from cyclip_bench.data.captions import CaptionDataset
    from cyclip_bench.models import get_tokenizer

    model, cfg = run.raw_model, run.cfg
    table = model.token_embedding.weight
    captions = CaptionDataset(cfg.train_data, None, None).captions
    active = torch.unique(get_tokenizer(run.info)(list(captions)))
    model.token_embedding = ActiveRows(table, active)
    for group in run.optimizer.param_groups:  # the active rows take the table's place, in the same order
        group["params"] = [model.token_embedding.rows if p is table else p for p in group["params"]]

    def decay_unused_rows(optimizer: Any, args: Any, kwargs: Any) -> None:
        # An unused row's gradient is exactly 0, so AdamW's moments stay 0 and its update is p·(1 − lr·wd).
        with torch.no_grad():
            table.mul_(1 - optimizer.param_groups[0]["lr"] * cfg.weight_decay)

    run.optimizer.register_step_post_hook(decay_unused_rows)
    run.active_rows = (table, active)


class ActiveRows(torch.nn.Module):
    """The token embedding as a parameter of the rows in ``active`` only (ids outside it never occur)."""

    def __init__(self, table: torch.Tensor, active: torch.Tensor) -> None:
        super().__init__()
        self.rows = torch.nn.Parameter(table.detach()[active].clone())
        remap = torch.zeros(table.shape[0], dtype=torch.long)
        remap[active] = torch.arange(len(active))
        self.register_buffer("remap", remap, persistent=False)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.embedding(self.remap[text], self.rows)


def full_table(run: Any) -> Any:
    """The whole token-embedding table of an ``active-rows`` run: the scaled table with the trained rows."""
    table, active = run.active_rows
    with torch.no_grad():
        out = table.clone()
        out[active] = run.raw_model.token_embedding.rows
    return out


def _vmap(k: int) -> Builder:
    """K seeds as one batched model (torch.func), each with its own weights, BatchNorm statistics and batches."""

    def build(train_data: str, logs: Path) -> tuple[Callable[[], None], int]:
        import torch.nn.functional as F
        from open_clip.transformer import text_global_pool
        from torch.func import functional_call, grad_and_value, stack_module_state, vmap

        from cyclip_bench.models.text_trim import pooled_positions
        from cyclip_bench.objectives import objective_loss, split_outputs
        from cyclip_bench.train.loop import MAX_LOGIT_SCALE, lr_at

        runs = [_setup(train_data, seed, logs) for seed in range(k)]
        models = [run.raw_model for run, _ in runs]
        params, buffers = stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta")
        length = {"L": 1}

        def encode_text(self: Any, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
            n = length["L"]  # the K batches' longest pooled position + 1 (no host sync inside vmap)
            text = text[:, :n]
            x = self.token_embedding(text) + self.positional_embedding[:n]
            x = self.ln_final(self.transformer(x, attn_mask=self.attn_mask[:n, :n]))
            x = text_global_pool(x, text, self.text_pool_type) @ self.text_projection
            return F.normalize(x, dim=-1) if normalize else x

        base.encode_text = types.MethodType(encode_text, base)
        run0 = runs[0][0]

        def loss(p: dict, b: dict, images: torch.Tensor, texts: torch.Tensor) -> tuple[torch.Tensor, dict]:
            image, text, scale, bias = split_outputs(functional_call(base, (p, b), (images, texts)))
            out = objective_loss(run0.objective, image, text, scale, bias, params=run0.loss_params)
            return out["loss"], out

        grads = vmap(grad_and_value(loss, has_aux=True))
        leaves = {name: value.detach().requires_grad_(True) for name, value in params.items()}
        decay = [v for n, v in leaves.items() if models[0].get_parameter(n).ndim >= 2]
        rest = [v for n, v in leaves.items() if models[0].get_parameter(n).ndim < 2]
        cfg = run0.cfg
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=(cfg.beta1, cfg.beta2),
            eps=cfg.eps,
            fused=True,
        )
        state = {"step": 0}

        def step() -> None:
            pairs = [next(batches) for _, batches in runs]
            images = torch.stack([p[0] for p in pairs]).contiguous(memory_format=torch.contiguous_format)
            texts = torch.stack([p[1] for p in pairs])
            length["L"] = int(pooled_positions(texts.flatten(0, 1), base.text_pool_type, None).max()) + 1
            lr = lr_at(state["step"], cfg.lr, cfg.warmup, run0.total_steps)
            for group in opt.param_groups:
                group["lr"] = lr
            g, (_, out) = grads({n: v.detach() for n, v in leaves.items()}, buffers, images, texts)
            for name, value in leaves.items():
                value.grad = g[name]
            opt.step()
            opt.zero_grad(set_to_none=True)
            with torch.no_grad():
                leaves["logit_scale"].clamp_(0, MAX_LOGIT_SCALE)
            out["loss"].tolist()  # the per-step logging read, as in the loop
            state["step"] += 1

        step.params = leaves  # type: ignore[attr-defined]  # the stacked weights, for the equivalence test
        step.buffers = buffers  # type: ignore[attr-defined]
        return step, k

    return build


METHODS: dict[str, Builder] = {
    "eager": _single(lambda run: None),
    "compile": _single(_compile),
    "active-rows": _single(_active_rows),
    "vmap2": _vmap(2),
    "vmap4": _vmap(4),
    "batch256": _single(lambda run: None, batch_size=256),
}


def _timed(step: Callable[[], None], steps: int) -> tuple[float, float, float]:
    """(wall s, thread-CPU s, minor page faults) per step over ``steps`` steps."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(steps):
        step()
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    return wall / steps, cpu / steps, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps


def measure(methods: list[str], train_data: str, rounds: int, chunk: int, skip: int) -> dict[str, Any]:
    """Every method in this process, interleaved (module doc); returns {"rounds": [...], "methods": {...}}."""

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as logs:
            steps, seeds, warmup = {}, {}, {}
            for method in methods:
                steps[method], seeds[method] = METHODS[method](train_data, Path(logs) / method)
                first = time.perf_counter()
                for _ in range(skip):
                    steps[method]()
                warmup[method] = time.perf_counter() - first
            table = []
            for r in range(rounds):
                order = methods if r % 2 == 0 else methods[::-1]
                found = {}
                for method in order:
                    wall, cpu, faults = _timed(steps[method], chunk)
                    found[method] = {
                        "wall_per_seed_s": round(wall / seeds[method], 5),
                        "cpu_per_seed_s": round(cpu / seeds[method], 5),
                        "page_faults_per_step": round(faults, 1),
                    }
                table.append(found)
                print(json.dumps({"round": r + 1, **found}), flush=True)
    finally:
        torch.set_num_threads(threads)
    return {"rounds": table, "methods": _summary(methods, table, seeds, warmup, skip)}


def _summary(methods: list[str], table: list[dict], seeds: dict, warmup: dict, skip: int) -> dict[str, dict]:
    base, out = methods[0], {}
    for method in methods:
        wall = statistics.median(r[method]["wall_per_seed_s"] for r in table)
        cpu = statistics.median(r[method]["cpu_per_seed_s"] for r in table)
        # the warm-up steps' time beyond what they take once warm: compile time, first-call allocations
        extra = max(0.0, warmup[method] - skip * wall * seeds[method])
        out[method] = {
            "seeds_per_step": seeds[method],
            "pairs_per_s_per_seed": round(64 / wall, 1),
            "cpu_pairs_per_s_per_seed": round(64 / cpu, 1),
            "warmup_s": round(extra, 1),
            "seeds_per_hour": round(CORES * 3600 / (DEMO_STEPS * wall + extra / seeds[method]), 1),
            "speed_vs_first": round(
                statistics.median(r[base]["wall_per_seed_s"] / r[method]["wall_per_seed_s"] for r in table), 3
            ),
            "cpu_speed_vs_first": round(
                statistics.median(r[base]["cpu_per_seed_s"] / r[method]["cpu_per_seed_s"] for r in table), 3
            ),
            "page_faults_per_step": statistics.median(r[method]["page_faults_per_step"] for r in table),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-data", required=True)
    parser.add_argument(
        "--methods", default="eager,active-rows,compile,vmap4,batch256", help=f"comma list of {', '.join(METHODS)}"
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=10, help="steps of each method per round")
    parser.add_argument("--skip", type=int, default=10, help="warm-up steps per method before the rounds")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        parser.error(f"--methods: unknown {', '.join(unknown) or '(none)'}; known: {', '.join(METHODS)}")
    figures = measure(methods, args.train_data, args.rounds, args.chunk, args.skip)
    base = methods[0]
    head = f"per-seed speed / {base} (wall; CPU)"
    print(f"\n| method | pairs/s per seed (wall; CPU) | warm-up s | seeds/hour | {head} | page faults / step |")
    print("|---|---|---|---|---|---|")
    for method, row in figures["methods"].items():
        rates = f"{row['pairs_per_s_per_seed']:.0f}; {row['cpu_pairs_per_s_per_seed']:.0f}"
        speed = f"{row['speed_vs_first']:.2f}x; {row['cpu_speed_vs_first']:.2f}x"
        print(
            f"| {method} | {rates} | {row['warmup_s']:.1f} | {row['seeds_per_hour']:.1f} | {speed} | "
            f"{row['page_faults_per_step']:.0f} |"
        )
    print(json.dumps(figures["methods"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
