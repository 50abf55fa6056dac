"""One-shot NAS: DARTS (Liu et al., ICLR 2019) and DARTS-PT (Wang et al., ICLR 2021).

Both strategies train the same weight-sharing supernet (``automl.nn.supernet``)
with first-order bilevel optimisation: the weights on one half of the training
split, the alphas on the other. They differ only in how they read an
architecture off the trained supernet:

* ``darts`` (magnitude): the op with the largest alpha per edge, then the k
  inputs per node whose strongest non-'none' op weight is largest;
* ``darts-pt`` (perturbation): Wang et al. show that alpha magnitude does not
  measure what an op contributes (skip connections win alpha while convs carry
  the accuracy), so each edge keeps the op whose *removal* hurts supernet
  validation accuracy most, with fine-tuning between decisions, and each node
  drops the inputs whose removal hurts least.

The strategies are one-shot: the first ``ask()`` trains and selects, later asks
return None, and the engine retrains the returned candidate from scratch. The
supernet phase runs as a job through the search's runner
(``context.run_job``): under the per-trial limits, and on Dask when the search
is, so a supernet that runs too long is stopped and recorded (the study's
``strategy.supernet`` report holds the reason) instead of holding the driver.

With ``cost=flops|latency_ms`` the alphas' loss also has a cost term (FBNet,
Wu et al. 2019; ProxylessNAS, Cai et al. 2019): ``cost_weight`` times the
expected cost of the mixed ops under their branch weights, over that cost at
uniform alphas, with every candidate op measured once on its real input
(``automl.nn.operation_costs``). With the default ``cost=none`` nothing is
measured and training is exactly as without the option.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from automl.nn.compile import compile_architecture
from automl.nn.operation_costs import COST_KINDS, CostPenalty, forward_flops, measure_operation_costs
from automl.nn.supernet import Selection, Supernet, build_supernet
from automl.space import Candidate, SearchSpace
from automl.strategies.base import JobFailed, Proposal, Strategy, StrategyContext, TrialResult
from automl.strategies.options import StrategyOptionError, option
from automl.training import resolve_device

NO_COST = "none"
DEFAULT_COST_WEIGHT = 0.1  # of the unit-free cost term: weight * expected cost / expected cost at uniform alphas


@dataclass
class SupernetSettings:
    """How the supernet is trained; defaults follow DARTS, scaled down for CPU."""

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 0.025
    minimum_learning_rate: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    gradient_clip: float = 5.0
    architecture_learning_rate: float = 3e-4
    architecture_weight_decay: float = 1e-3
    finetune_epochs: int = 1
    seconds: float | None = None
    progress: bool = False
    cost: str = NO_COST  # "flops" or "latency_ms": a cost term in the architecture loss (FBNet, ProxylessNAS)
    cost_weight: float = DEFAULT_COST_WEIGHT


def _as_tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype)


class SupernetTrainer:
    """First-order bilevel training of a supernet and its evaluation on the validation split.

    The training split is halved with a seeded permutation: the first half
    trains the weights (SGD, momentum, cosine schedule), the second the alphas
    (Adam, lr 3e-4, betas (0.5, 0.999), weight decay 1e-3), as in DARTS. A
    ``seconds`` budget covers training and fine-tuning together. With a
    ``cost_penalty`` (FBNet, ProxylessNAS) the alphas' loss is the validation
    loss plus ``penalty(supernet)``; without one (the default) it is the
    validation loss alone.
    """

    def __init__(
        self, supernet: Supernet, data: Any, settings: SupernetSettings, device: str | torch.device | None, seed: int
    ) -> None:
        self.device = resolve_device(str(device) if device is not None else "auto")
        self.supernet = supernet.to(self.device)
        self.settings = settings
        self.classification = getattr(data, "task", "classification") == "classification"
        target_type = torch.long if self.classification else torch.float32
        features = _as_tensor(data.train.features, torch.float32)
        target = _as_tensor(data.train.target, target_type)
        self.generator = torch.Generator().manual_seed(int(seed))
        order = torch.randperm(features.shape[0], generator=self.generator)
        half = max(1, features.shape[0] // 2)
        self.weight_features, self.weight_target = features[order[:half]], target[order[:half]]
        rest = order[half:] if features.shape[0] > half else order[:half]
        self.architecture_features, self.architecture_target = features[rest], target[rest]
        self.validation_features = _as_tensor(data.validation.features, torch.float32)
        self.validation_target = _as_tensor(data.validation.target, target_type)
        if self.device.type != "cpu":
            self._to_device()
        self.cost_penalty: CostPenalty | None = None
        self.started: float | None = None  # the budget clock starts with the first training step
        self.training_seconds = 0.0
        self.steps = 0
        self.architecture_optimizer = torch.optim.Adam(
            supernet.architecture_parameters(),
            lr=settings.architecture_learning_rate,
            betas=(0.5, 0.999),
            weight_decay=settings.architecture_weight_decay,
        )

    def _to_device(self) -> None:
        for name in (
            "weight_features",
            "weight_target",
            "architecture_features",
            "architecture_target",
            "validation_features",
            "validation_target",
        ):
            setattr(self, name, getattr(self, name).to(self.device, non_blocking=True))

    def out_of_time(self) -> bool:
        seconds = self.settings.seconds
        if seconds is None or self.started is None:
            return False
        return time.perf_counter() - self.started >= seconds

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.classification:
            return nn.functional.cross_entropy(output, target)
        return nn.functional.mse_loss(output.reshape(target.shape), target)

    def train(self, epochs: int, learning_rate: float | None = None, description: str = "supernet") -> int:
        """Bilevel epochs with a fresh SGD and cosine schedule; returns the epochs completed."""
        if epochs <= 0 or self.out_of_time():
            return 0
        if self.started is None:
            self.started = time.perf_counter()
        settings = self.settings
        learning_rate = settings.learning_rate if learning_rate is None else learning_rate
        optimizer = torch.optim.SGD(
            self.supernet.weight_parameters(),
            lr=learning_rate,
            momentum=settings.momentum,
            weight_decay=settings.weight_decay,
        )
        batches = max(1, math.ceil(self.weight_features.shape[0] / settings.batch_size))
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, epochs * batches, eta_min=min(settings.minimum_learning_rate, learning_rate)
        )
        alphas = self.supernet.architecture_parameters()
        weights = self.supernet.weight_parameters()
        completed = 0
        began = time.perf_counter()
        with _Progress(settings.progress, description, epochs) as advance:
            for _ in range(epochs):
                self.supernet.train()
                weight_order = torch.randperm(self.weight_features.shape[0], generator=self.generator)
                architecture_order = torch.randperm(self.architecture_features.shape[0], generator=self.generator)
                for batch in range(batches):
                    rows = weight_order[batch * settings.batch_size : (batch + 1) * settings.batch_size]
                    start = (batch * settings.batch_size) % max(1, architecture_order.numel())
                    architecture_rows = architecture_order[start : start + settings.batch_size]
                    if architecture_rows.numel() == 0:
                        architecture_rows = architecture_order[: settings.batch_size]
                    if alphas:
                        # first-order DARTS: the alpha gradient at the current weights, on the other half
                        output = self.supernet(self.architecture_features[architecture_rows.to(self.device)])
                        loss = self.loss(output, self.architecture_target[architecture_rows.to(self.device)])
                        if self.cost_penalty is not None:
                            loss = loss + self.cost_penalty(self.supernet)
                        gradients = torch.autograd.grad(loss, alphas, allow_unused=True)
                        for parameter, gradient in zip(alphas, gradients):
                            parameter.grad = gradient
                        self.architecture_optimizer.step()
                        self.architecture_optimizer.zero_grad(set_to_none=True)
                    optimizer.zero_grad(set_to_none=True)
                    output = self.supernet(self.weight_features[rows.to(self.device)])
                    loss = self.loss(output, self.weight_target[rows.to(self.device)])
                    loss.backward()
                    nn.utils.clip_grad_norm_(weights, settings.gradient_clip)
                    optimizer.step()
                    scheduler.step()
                    self.steps += 1
                    if self.out_of_time():
                        break
                completed += 1
                advance()
                if self.out_of_time():
                    break
        self.training_seconds += time.perf_counter() - began
        return completed

    @torch.no_grad()
    def evaluate(self) -> float:
        """Supernet score on the validation split: accuracy, or minus the mean squared error."""
        self.supernet.eval()
        size = 512
        correct, squared, rows = 0.0, 0.0, self.validation_features.shape[0]
        for start in range(0, rows, size):
            output = self.supernet(self.validation_features[start : start + size])
            target = self.validation_target[start : start + size]
            if self.classification:
                correct += float((output.argmax(dim=1) == target).sum())
            else:
                squared += float(((output.reshape(target.shape) - target) ** 2).sum())
        self.supernet.train()
        return correct / max(rows, 1) if self.classification else -squared / max(rows, 1)


class _Progress:
    """An optional rich progress bar; a no-op when disabled or rich is missing."""

    def __init__(self, enabled: bool, description: str, total: int) -> None:
        self.enabled, self.description, self.total = enabled, description, total
        self.bar: Any = None

    def __enter__(self) -> Callable[[], None]:
        if self.enabled:
            try:
                from rich.progress import Progress

                self.bar = Progress(transient=True)
                self.bar.start()
                task = self.bar.add_task(self.description, total=self.total)
                return lambda: self.bar.advance(task)
            except ImportError:
                self.bar = None
        return lambda: None

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@dataclass
class SelectionReport:
    """A selection with what it was based on (JSON-able scores) and how long it took."""

    selection: Selection
    method: str
    seconds: float
    supernet_score: float | None = None
    operation_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    input_scores: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    finetune_epochs: int = 0

    def scores(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "supernet_score": self.supernet_score,
            "operations": self.operation_scores,
            "inputs": self.input_scores,
        }


def _non_zero(decision: Any) -> tuple[Any, ...]:
    kept = tuple(value for value in decision.candidates if value not in decision.zero_candidates)
    return kept or tuple(decision.candidates)


def _best_subset(allowed: tuple[tuple[int, ...], ...], strength: list[float]) -> tuple[int, ...]:
    # strongest total; ties go to the earlier subset, so the result is deterministic
    return max(
        allowed, key=lambda subset: (sum(strength[position] for position in subset), [-position for position in subset])
    )


def select_by_magnitude(supernet: Supernet) -> SelectionReport:
    """DARTS: argmax alpha per edge ('none' excluded) and the k inputs with the strongest op weight."""
    began = time.perf_counter()
    operations: dict[str, Any] = {}
    strongest: dict[str, float] = {}
    for decision in supernet.operation_decisions:
        weights = supernet.operation_weights(decision.path).tolist()
        kept = _non_zero(decision)
        best = max(kept, key=lambda value: (weights[decision.position(value)], -decision.position(value)))
        operations[decision.path] = best
        strongest[decision.path] = weights[decision.position(best)]
    inputs: dict[str, tuple[int, ...]] = {}
    for decision in supernet.input_decisions:
        strength = [
            max((strongest[path] for path in edge), default=0.0)
            if position in supernet.active_inputs(decision.path)
            else -1.0
            for position, edge in enumerate(decision.edge_operations)
        ]
        inputs[decision.path] = _best_subset(decision.allowed, strength)
    return SelectionReport(Selection(operations, inputs), "magnitude", time.perf_counter() - began)


def select_by_perturbation(
    supernet: Supernet, trainer: SupernetTrainer, seed: int, finetune_epochs: int = 1
) -> SelectionReport:
    """DARTS-PT: perturbation-based op selection, then topology selection (Wang et al. 2021, Algorithm 1).

    Mutates the supernet: edges end frozen and inputs dropped. Edges (and then
    nodes) are visited in a seeded random order; the supernet is fine-tuned for
    ``finetune_epochs`` between decisions (5 in the paper).
    """
    began = time.perf_counter()
    finetune_seconds = 0.0
    finetuned = 0
    rng = np.random.default_rng([int(seed), 5])  # its own stream: the salt keeps it apart from other seeded draws
    finetune_rate = trainer.settings.learning_rate / 10

    decisions = [decision for decision in supernet.operation_decisions if not supernet.is_frozen(decision.path)]
    nodes = [
        decision for decision in supernet.input_decisions if len(supernet.active_inputs(decision.path)) > decision.k
    ]
    total = len(decisions) + len(nodes)
    done = 0

    def finetune() -> None:
        nonlocal finetune_seconds, finetuned, done
        done += 1
        if finetune_epochs > 0 and done < total:
            start = time.perf_counter()
            finetuned += trainer.train(finetune_epochs, finetune_rate, "fine-tune")
            finetune_seconds += time.perf_counter() - start

    supernet_score = trainer.evaluate()
    operations: dict[str, Any] = {}
    operation_scores: dict[str, dict[str, float]] = {}
    for index in rng.permutation(len(decisions)):
        decision = decisions[int(index)]
        base = trainer.evaluate()
        scores: dict[Any, float] = {}
        for value in _non_zero(decision):
            with supernet.without_operation(decision.path, value):
                scores[value] = trainer.evaluate()
        # the op whose removal hurts most; ties to the earlier candidate
        chosen = min(scores, key=lambda value: (scores[value], decision.position(value)))
        supernet.freeze_operation(decision.path, chosen)
        operations[decision.path] = chosen
        operation_scores[decision.path] = {"base": base, **{str(value): score for value, score in scores.items()}}
        finetune()
    for decision in supernet.operation_decisions:
        operations.setdefault(decision.path, supernet.frozen_operation(decision.path))

    inputs: dict[str, tuple[int, ...]] = {}
    input_scores: dict[str, list[dict[str, float]]] = {}
    for index in rng.permutation(len(nodes)):
        decision = nodes[int(index)]
        rounds: list[dict[str, float]] = []
        active = set(supernet.active_inputs(decision.path))
        while len(active) > decision.k:
            removable = [
                position
                for position in sorted(active)
                if any(set(subset) <= active - {position} for subset in decision.allowed)
            ]
            if not removable:
                break
            scores_by_position: dict[int, float] = {}
            for position in removable:
                with supernet.without_input(decision.path, position):
                    scores_by_position[position] = trainer.evaluate()
            # the input whose removal hurts least; ties to the later position (keep earlier inputs)
            dropped = max(scores_by_position, key=lambda position: (scores_by_position[position], position))
            supernet.drop_input(decision.path, dropped)
            active.discard(dropped)
            rounds.append({str(position): score for position, score in scores_by_position.items()})
        input_scores[decision.path] = rounds
        finetune()
    for decision in supernet.input_decisions:
        active = supernet.active_inputs(decision.path)
        if active in decision.allowed:
            inputs[decision.path] = active
        else:
            strength = [1.0 if position in active else 0.0 for position in range(decision.positions)]
            inputs[decision.path] = _best_subset(decision.allowed, strength)
    seconds = time.perf_counter() - began - finetune_seconds
    report = SelectionReport(
        Selection(operations, inputs), "perturbation", seconds, supernet_score, operation_scores, input_scores
    )
    report.finetune_epochs = finetuned
    return report


def _setting(training: Any, name: str) -> Any:
    if training is None:
        return None
    if isinstance(training, Mapping):
        return training.get(name)
    return getattr(training, name, None)


@dataclass(frozen=True)
class OneShotOptions:
    supernet_epochs: int | None = option(None, "supernet training epochs [the search's --epochs]", minimum=0)
    batch_size: int | None = option(None, "supernet batch size [the search's --batch-size]", minimum=1)
    learning_rate: float = option(0.025, "SGD learning rate of the supernet's weights", minimum=0.0)
    architecture_learning_rate: float = option(3e-4, "Adam learning rate of the alphas", minimum=0.0)
    finetune_epochs: int = option(1, "fine-tuning epochs between DARTS-PT decisions", minimum=0)
    seconds: float | None = option(None, "time budget of supernet training [60% of the search's --trial-seconds]")
    progress: bool = option(False, "show a progress bar while the supernet trains")
    fixed: dict = option({}, "decision path -> value, fixed in the supernet instead of mixed")
    cost: str = option(
        NO_COST, "cost term in the alphas' loss: expected FLOPs or latency of the ops", choices=(NO_COST, *COST_KINDS)
    )
    cost_weight: float | None = option(
        None, f"weight of the unit-free cost term [{DEFAULT_COST_WEIGHT} with a cost]", minimum=0.0
    )


# Of the per-trial seconds that bound the whole one-shot job, the share supernet training may use by
# default: the rest is left for selection (DARTS-PT's perturbations and fine-tuning), so a supernet
# stopped by its budget still yields a candidate instead of the job passing the trial's limit.
TRAINING_SHARE_OF_TRIAL_SECONDS = 0.6


def _share(seconds: float | None) -> float | None:
    return None if seconds is None else TRAINING_SHARE_OF_TRIAL_SECONDS * float(seconds)


def settings_from_context(context: StrategyContext, options: OneShotOptions) -> SupernetSettings:
    """Supernet settings from the strategy options, falling back to the study's training settings."""
    defaults = SupernetSettings()
    training = context.training
    if options.cost == NO_COST and options.cost_weight is not None:
        raise StrategyOptionError(
            f"option cost_weight={options.cost_weight!r} needs a cost to weigh: add cost={'|'.join(COST_KINDS)}"
        )
    return SupernetSettings(
        epochs=options.supernet_epochs
        if options.supernet_epochs is not None
        else (_setting(training, "epochs") or defaults.epochs),
        batch_size=options.batch_size or _setting(training, "batch_size") or defaults.batch_size,
        learning_rate=options.learning_rate,
        architecture_learning_rate=options.architecture_learning_rate,
        finetune_epochs=options.finetune_epochs,
        seconds=options.seconds if options.seconds is not None else _share(_setting(training, "seconds")),
        progress=options.progress,
        cost=options.cost,
        cost_weight=DEFAULT_COST_WEIGHT if options.cost_weight is None else options.cost_weight,
    )


def train_supernet(
    space: SearchSpace,
    data: Any,
    settings: SupernetSettings,
    seed: int = 0,
    device: str | torch.device | None = "cpu",
    fixed: Mapping[str, Any] | None = None,
    registry: Any = None,
) -> tuple[Supernet, SupernetTrainer]:
    """Build a supernet for ``data`` (parameters seeded without touching torch's global generator) and train it.

    With ``settings.cost`` set, every candidate op is measured first (on the
    trainer's device, on one training row) and the trainer gets the cost penalty.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        supernet = build_supernet(space, tuple(data.input_shape), data.num_outputs, fixed, registry)
    trainer = SupernetTrainer(supernet, data, settings, device, seed)
    if settings.cost != NO_COST:
        costs = measure_operation_costs(trainer.supernet, trainer.weight_features[:1], settings.cost)
        trainer.cost_penalty = CostPenalty(costs, settings.cost_weight)
    trainer.train(settings.epochs)
    return supernet, trainer


def run_one_shot(
    space: SearchSpace,
    data: Any,
    settings: SupernetSettings,
    seed: int,
    device: str,
    fixed: Mapping[str, Any],
    registry: Any,
    method: str,
) -> dict[str, Any]:
    """The whole one-shot phase, as one job: train the supernet, select, return JSON-able results."""
    supernet, trainer = train_supernet(space, data, settings, seed, device, fixed, registry)
    alphas = supernet.alphas()
    expected_after_training = None if trainer.cost_penalty is None else trainer.cost_penalty.expected(supernet)
    training_seconds = trainer.training_seconds
    if method == "perturbation":
        report = select_by_perturbation(supernet, trainer, seed, settings.finetune_epochs)
    else:
        report = select_by_magnitude(supernet)
    candidate = supernet.candidate(report.selection)
    result = {
        "candidate": candidate.to_dict(),
        "alphas": alphas,
        "scores": report.scores(),
        "supernet": {
            "training_seconds": training_seconds,
            "selection_seconds": report.seconds,
            "finetune_epochs": report.finetune_epochs,
            "steps": trainer.steps,
            "parameters": supernet.parameter_count(),
        },
    }
    if trainer.cost_penalty is not None:
        result["cost"] = cost_report(trainer.cost_penalty, candidate, space, data, registry, expected_after_training)
    return result


def cost_report(
    penalty: CostPenalty,
    candidate: Candidate,
    space: SearchSpace,
    data: Any,
    registry: Any,
    expected_after_training: float | None,
) -> dict[str, Any]:
    """JSON-able costs of a cost-penalised search: the selected ops' cost, the expected costs, the table.

    ``selected`` is the sum of the chosen ops' costs (ops on edges the
    selection dropped cost nothing); ``network_flops`` the FLOPs of the whole
    discretised candidate on one row, stem and head included.
    """
    costs = penalty.costs
    sample = _as_tensor(data.train.features[:1], torch.float32)
    with torch.random.fork_rng(devices=[]):  # building the candidate's layers draws their initial weights
        model = compile_architecture(space.replay(candidate), tuple(data.input_shape), data.num_outputs, registry)
    return {
        "kind": costs.kind,
        "weight": penalty.weight,
        "selected": costs.selected(candidate),
        "network_flops": forward_flops(model.module, sample),
        "expected_uniform": costs.uniform_expected(),
        "expected_after_training": expected_after_training,
        "reference": penalty.reference,
        "measure_seconds": costs.seconds,
        "operations": costs.to_dict(),
    }


class DartsStrategy(Strategy):
    """DARTS (Liu et al. 2019): one supernet, selection by alpha magnitude."""

    name = "darts"
    description = "one-shot DARTS: bilevel supernet training, then argmax-alpha selection (Liu et al. 2019)"
    method = "magnitude"
    Options = OneShotOptions
    accepts_fidelity = False  # the supernet phase picks the architecture; nothing is trained by rung

    def setup(self, space: SearchSpace, context: StrategyContext) -> None:
        super().setup(space, context)
        self.settings = settings_from_context(context, self.options)
        self.fixed = dict(self.options.fixed)
        self.result: dict[str, Any] | None = None
        self.failure: str | None = None
        self.asked = False
        self.told = False

    def _run(self) -> dict[str, Any]:
        context = self.context
        if context.data is None:
            raise StrategyOptionError(f"strategy {self.name!r} trains a supernet and needs the data in its context")
        arguments = (
            self.space,
            context.data,
            self.settings,
            context.seed,
            context.device,
            self.fixed,
            context.op_registry,
            self.method,
        )
        if context.run_job is None:
            return run_one_shot(*arguments)
        return context.run_job(run_one_shot, *arguments)

    def ask(self) -> Proposal | None:
        if self.asked or self.failure is not None:
            return None
        if self.result is None:
            try:
                self.result = self._run()
            except JobFailed as error:
                self.failure = f"the supernet phase failed: {error}"
                if self.context.report is not None:
                    self.context.report("supernet", {"status": "failed", "error": self.failure})
                return None
            if self.context.report is not None:
                self.context.report("alphas", self.result["alphas"])
                if "cost" in self.result:
                    self.context.report("cost", self.result["cost"])
                if self.method == "perturbation":
                    self.context.report("perturbation_scores", self.result["scores"])
                self.context.report("supernet", {"status": "complete", **self.result["supernet"]})
        self.asked = True
        return Proposal(Candidate(self.result["candidate"]))

    def tell(self, proposal: Proposal, result: TrialResult) -> None:
        self.told = True

    def state_dict(self) -> dict[str, Any]:
        return {"result": self.result, "told": self.told, "failure": self.failure}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume without retraining: the stored candidate is asked again only if its trial was never told."""
        self.result = state.get("result")
        self.failure = state.get("failure")
        self.told = bool(state.get("told", False))
        self.asked = self.told


class DartsPerturbationStrategy(DartsStrategy):
    """DARTS-PT (Wang et al. 2021): the same supernet, selection by perturbation."""

    name = "darts-pt"
    description = "one-shot DARTS-PT: bilevel supernet training, then perturbation-based selection (Wang et al. 2021)"
    method = "perturbation"
