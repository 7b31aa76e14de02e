"""The lessons that train (4's and 5's races, 6's remedies, 7's LeNet-5 beside SimpleCNN): started with a button,
computed by simplecnn.lessons.jobs in a background thread (never in the script thread), shared by every visitor who
asks for the same settings, shown live by a fragment that polls the job."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

import streamlit as st

from simplecnn.data import load_mnist
from simplecnn.figures.lessons import LinesLabels, Series, lines
from simplecnn.lessons import compare, overfit, race
from simplecnn.lessons.jobs import Job, Jobs, JobState
from simplecnn.lessons.race import Mistake, RacePoint, RaceResult
from simplecnn.lessons.tutorial import COMPARISON
from simplecnn.training.events import BatchEnd
from ui import charts, fmt, i18n, resources
from ui.i18n import t
from ui.lessons import beside
from ui.models import LoadedModel


@dataclass(frozen=True)
class Budgets:
    """How much each training lesson computes (the lesson's defaults; tests swap in tiny ones)."""

    race_seconds: float = race.BUDGET_SECONDS
    race_steps: int = 0  # 0: until the budget
    race_test_images: int = race.TEST_IMAGES
    overfit_seconds: float = overfit.BUDGET_SECONDS
    overfit_epochs: int = overfit.EPOCHS
    overfit_train_images: int = overfit.TRAIN_IMAGES
    overfit_test_images: int = overfit.TEST_IMAGES
    compare_seconds: float = compare.BUDGET_SECONDS
    compare_train_images: int = 0  # 0: all 60,000
    compare_test_images: int = 0  # 0: all 10,000


BUDGETS = Budgets()
# The loss a model that ends in softmax can never go below, even when it is right: CE(softmax(p)) ≥ log(1 + 9/e).
SOFTMAX_FLOOR = math.log(1 + 9 / math.e)
BREAKABLE = (
    Mistake.NO_ZERO_GRAD,
    Mistake.TINY_LR,
    Mistake.NO_NORMALIZATION,
    Mistake.ONE_HOT_TARGETS,
    Mistake.WRONG_DEVICE,
)


@st.cache_resource(show_spinner=False)
def jobs() -> Jobs:
    """One lesson run computes at a time for the whole server; finished ones stay for the next visitor."""
    return Jobs(concurrent=1, keep=32)


# ---- a run's frame: the Start button, the live panel -----------------------------------------------------------
def run_panel(key: Hashable, run: Callable[[], Iterator[Any]], show: Callable[[Job], None], name: str) -> None:
    """Start `run` (shared by `key`) on request; show its job live while it computes, and once it is done."""
    job = jobs().get(key)
    busy = job is not None and job.active
    if st.button(t("lessons.run.start"), key=f"lesson_{name}_start", type="primary", disabled=busy):
        job = jobs().start(key, run)
    if job is None:
        st.caption(t("lessons.run.not_started"))
        return
    st.fragment(_live, run_every=1.0 if job.active else None)(key, show, job.active)


def _live(key: Hashable, show: Callable[[Job], None], was_active: bool) -> None:
    job = jobs().get(key)
    if job is None:  # forgotten: many other runs since
        st.caption(t("lessons.run.not_started"))
        return
    if job.state is JobState.QUEUED:
        st.info(t("lessons.run.queued"))
    elif job.state is JobState.FAILED:
        st.error(t("lessons.run.failed"))
    elif job.active:
        st.caption(t("lessons.run.running", seconds=fmt.duration(_elapsed(job))))
    show(job)
    if was_active and not job.active:
        st.rerun(scope="app")  # stop polling


def _elapsed(job: Job) -> float:
    return (job.finished or time.monotonic()) - job.started


def _no_data() -> bool:
    if resources.has_data():
        return False
    st.warning(resources.missing_data_message())
    return True


# ---- 4 and 5: the correct loop raced against a mistake -------------------------------------------------------
def race_lesson(loaded: LoadedModel, mistake: Mistake | None = None) -> None:
    """Lesson 4 passes the softmax-at-the-end mistake; lesson 5 lets the learner pick one."""
    if _no_data():
        return
    if mistake is None:
        mistake = st.segmented_control(
            t("lessons.race.pick"),
            BREAKABLE,
            key="lesson_race_mistake",
            default=BREAKABLE[0],
            required=True,
            format_func=i18n.choices(BREAKABLE, lambda m: t(f"lessons.race.mistake.{m.value}")),
        )
        mistake = Mistake(mistake or BREAKABLE[0])
    arch, b = loaded.checkpoint.architecture, BUDGETS
    st.caption(t("lessons.race.setup", network=fmt.network(arch), seconds=b.race_seconds))
    key = ("race", mistake.value, arch, b.race_seconds, b.race_steps, b.race_test_images)

    def run() -> Iterator[Any]:
        return race.race(
            mistake, load_mnist(), arch, b.race_seconds, b.race_steps, seed=42, test_images=b.race_test_images
        )

    snippet = "softmax_at_end" if mistake is Mistake.SOFTMAX_AT_END else "training_loop"
    beside((snippet,), lambda: run_panel(key, run, lambda job: _race_view(job, mistake), "race"))


def _race_view(job: Job, mistake: Mistake) -> None:
    events = list(job.events)
    points = [e for e in events if isinstance(e, RacePoint)]
    names = {Mistake.NONE.value: t("lessons.race.correct"), mistake.value: t(f"lessons.race.mistake.{mistake.value}")}
    steps = [p.step for p in points]
    series = [
        Series(names[m], steps, [p.losses.get(m, math.nan) for p in points], colour=i)
        for i, m in enumerate((Mistake.NONE.value, mistake.value))
    ]
    labels = LinesLabels(
        title=t("lessons.race.chart_title"),
        x=t("lessons.race.chart_x"),
        y=t("lessons.race.chart_y"),
        floor=t("lessons.race.floor", value=SOFTMAX_FLOOR),
        waiting=t("lessons.run.waiting"),
    )
    floor = SOFTMAX_FLOOR if mistake is Mistake.SOFTMAX_AT_END else None
    charts.plot(lines(series, labels, floor=floor), key="lesson_race_chart", interactive=True)
    result = events[-1] if events and isinstance(events[-1], RaceResult) else None
    if result is None:
        return
    st.caption(t("lessons.race.done", steps=result.steps, images=result.images, seconds=result.seconds))
    for column, m in zip(st.columns(2), (Mistake.NONE.value, mistake.value), strict=True):
        accuracy = result.test_accuracy.get(m)
        column.metric(
            names[m], "—" if accuracy is None else f"{accuracy:.2%}", t("lessons.race.test_accuracy"), delta_color="off"
        )
    for m, error in result.errors.items():
        st.markdown(t("lessons.race.error", run=names.get(m, m)))
        st.code(error, language="text")
    st.info(t(f"lessons.race.lesson.{mistake.value}"))


# ---- 6. overfitting remedies ----------------------------------------------------------------------------------
def overfit_lesson(loaded: LoadedModel) -> None:
    if _no_data():
        return
    bud = BUDGETS
    st.caption(t("lessons.overfit.setup", train=bud.overfit_train_images, test=bud.overfit_test_images))
    a, b = st.columns(2)
    conv = a.slider(t("lessons.overfit.conv_dropout"), 0.0, 0.5, 0.25, step=0.05, key="lesson_of_conv")
    fc = b.slider(t("lessons.overfit.fc_dropout"), 0.0, 0.7, 0.5, step=0.05, key="lesson_of_fc")
    decay = a.select_slider(
        t("lessons.overfit.weight_decay"),
        (0.0, 1e-4, 1e-3),
        1e-4,
        key="lesson_of_decay",
        format_func=lambda v: f"{v:g}",
    )
    patience = b.select_slider(
        t("lessons.overfit.patience"),
        (0, 3, 5),
        5,
        key="lesson_of_patience",
        format_func=i18n.choices((0, 3, 5), _patience_label),
    )
    augment = st.toggle(t("lessons.overfit.augment"), True, key="lesson_of_augment")
    remedies = overfit.Remedies(float(conv), float(fc), bool(augment), float(decay), int(patience))
    key = (
        "overfit",
        remedies,
        bud.overfit_epochs,
        bud.overfit_seconds,
        bud.overfit_train_images,
        bud.overfit_test_images,
    )

    def run() -> Iterator[Any]:
        data = load_mnist().subset(bud.overfit_train_images, bud.overfit_test_images)
        return overfit.compare_remedies(remedies, data, bud.overfit_epochs, bud.overfit_seconds)

    beside(("overfitting",), lambda: run_panel(key, run, _overfit_view, "overfit"))


def _patience_label(value: int) -> str:
    return t("lessons.overfit.patience_off") if not value else t("common.epochs.count", count=value)


def _overfit_view(job: Job) -> None:
    points = [e for e in list(job.events) if isinstance(e, overfit.EpochPoint)]
    names = {"baseline": t("lessons.overfit.baseline"), "remedies": t("lessons.overfit.remedies")}
    for metric, percent in (("loss", False), ("accuracy", True)):
        series = []
        for colour, side in enumerate(("baseline", "remedies")):
            mine = [p for p in points if p.side == side]
            epochs = [p.epoch for p in mine]
            for split, dash in (("train", False), ("test", True)):
                values = [getattr(p, f"{split}_{metric}") for p in mine]
                name = t(f"lessons.overfit.{split}", run=names[side])
                series.append(Series(name, epochs, values, dash=dash, colour=colour))
        labels = LinesLabels(
            title=t(f"lessons.overfit.chart_{metric}"),
            x=t("lessons.overfit.chart_x"),
            y=t(f"lessons.overfit.chart_{metric}"),
            waiting=t("lessons.run.waiting"),
        )
        charts.plot(lines(series, labels, percent=percent), key=f"lesson_overfit_{metric}", interactive=True)
    if not job.active and points:
        st.dataframe(
            _overfit_rows(points, names), hide_index=True, key="lesson_overfit_table", column_config=_overfit_columns()
        )


def _overfit_rows(points: list[overfit.EpochPoint], names: dict[str, str]) -> list[dict]:
    rows = []
    for side in ("baseline", "remedies"):
        mine = [p for p in points if p.side == side]
        if mine:
            last = mine[-1]
            best = max(p.test_accuracy for p in mine)
            rows.append(
                {
                    "run": names[side],
                    "epochs": last.epoch,
                    "train": last.train_accuracy,
                    "test": last.test_accuracy,
                    "best": best,
                    "gap": last.train_accuracy - last.test_accuracy,
                }
            )
    return rows


def _overfit_columns() -> dict:
    column = st.column_config
    return {
        "run": column.TextColumn(t("lessons.overfit.col_run")),
        "epochs": column.NumberColumn(t("lessons.overfit.col_epochs")),
        "train": column.NumberColumn(t("lessons.overfit.col_train"), format="percent"),
        "test": column.NumberColumn(t("lessons.overfit.col_test"), format="percent"),
        "best": column.NumberColumn(t("lessons.overfit.col_best"), format="percent"),
        "gap": column.NumberColumn(t("lessons.overfit.col_gap"), format="percent"),
    }


# ---- 7. LeNet-5 beside SimpleCNN --------------------------------------------------------------------------------
def compare_lesson(loaded: LoadedModel) -> None:
    if _no_data():
        return
    bud = BUDGETS
    st.caption(t("lessons.lenet5.setup", seconds=bud.compare_seconds))
    key = ("compare", bud.compare_seconds, bud.compare_train_images, bud.compare_test_images)

    def run() -> Iterator[Any]:
        data = load_mnist().subset(0, bud.compare_test_images)
        return compare.comparison_runs(bud.compare_seconds, data, limit_train=bud.compare_train_images)

    beside(("lenet5",), lambda: run_panel(key, run, _compare_view, "compare"))


def _compare_view(job: Job) -> None:
    events = list(job.events)
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for e in events:
        if isinstance(e, compare.ArchitectureEvent) and isinstance(e.event, BatchEnd):
            xs, ys = curves.setdefault(e.model, ([], []))
            xs.append(e.event.elapsed)
            ys.append(e.event.loss)
    series = [Series(fmt.network(m), x, y, colour=i) for i, (m, (x, y)) in enumerate(curves.items())]
    labels = LinesLabels(
        title=t("lessons.race.chart_title"),
        x=t("lessons.lenet5.chart_x"),
        y=t("lessons.race.chart_y"),
        waiting=t("lessons.run.waiting"),
    )
    charts.plot(lines(series, labels), key="lesson_compare_chart", interactive=True)
    table = events[-1] if events and isinstance(events[-1], list) else None
    if table is not None:
        _comparison_table(table)


def _comparison_table(rows: list[compare.ArchitectureRow]) -> None:
    data = []
    for r in rows:
        claim = COMPARISON.get(r.model)
        data.append(
            {
                "network": fmt.network(r.model),
                "accuracy": r.accuracy,
                "parameters": r.parameters,
                "time": fmt.duration(r.seconds),
                "images": r.images,
                "status": t(f"status.{r.status}"),
                "t_accuracy": claim.accuracy if claim else None,
                "t_parameters": claim.parameters if claim else None,
                "t_time": t("lessons.lenet5.minutes", low=claim.minutes[0], high=claim.minutes[1]) if claim else "",
            }
        )
    column = st.column_config
    st.dataframe(
        data,
        hide_index=True,
        key="lesson_compare_table",
        column_config={
            "network": column.TextColumn(t("lessons.lenet5.col_network")),
            "accuracy": column.NumberColumn(t("lessons.lenet5.col_accuracy"), format="percent"),
            "parameters": column.NumberColumn(t("lessons.lenet5.col_parameters"), format="localized"),
            "time": column.TextColumn(t("lessons.lenet5.col_time")),
            "images": column.NumberColumn(t("lessons.lenet5.col_images"), format="localized"),
            "status": column.TextColumn(t("lessons.lenet5.col_status")),
            "t_accuracy": column.NumberColumn(t("lessons.lenet5.col_t_accuracy"), format="percent"),
            "t_parameters": column.NumberColumn(t("lessons.lenet5.col_t_parameters"), format="localized"),
            "t_time": column.TextColumn(t("lessons.lenet5.col_t_time")),
        },
    )
    st.caption(t("lessons.lenet5.why"))
