"""The workshop room: participants (a name and a private token) and the host's rules.

A run belongs to a participant, not to a browser session: the participant's private token lives in the page's
URL, so a reload, a reconnect, a second tab or the same link on a phone find the same participant and so the
same run. The scheduler only ever sees the participant's public id (`Participant.id`); the token never leaves
this module and the participant's own page. Nothing here knows about Streamlit.
"""

from __future__ import annotations

import enum
import math
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from simplecnn.data import IMAGE_SIZE, TRAIN_SIZE, normalize
from simplecnn.errors import CodedError
from simplecnn.training.config import TrainConfig

MAX_PARTICIPANTS = 5000  # a bound on memory (~1 KB each): the oldest idle passers-by are forgotten beyond it
CUSTOM = "custom"  # the preset name of a participant's own recipe

_ADJECTIVES = (
    "Brave",
    "Calm",
    "Clever",
    "Curious",
    "Eager",
    "Gentle",
    "Happy",
    "Jolly",
    "Kind",
    "Lucky",
    "Mighty",
    "Nimble",
    "Quick",
    "Quiet",
    "Sunny",
    "Swift",
    "Witty",
    "Bold",
    "Bright",
    "Cosy",
)
_ANIMALS = (
    "Otter",
    "Panda",
    "Falcon",
    "Koala",
    "Lynx",
    "Heron",
    "Badger",
    "Dolphin",
    "Fox",
    "Gecko",
    "Ibis",
    "Lemur",
    "Marmot",
    "Newt",
    "Owl",
    "Puffin",
    "Quokka",
    "Robin",
    "Seal",
    "Tapir",
)


class RoomRule(enum.StrEnum):
    """Which rule a run breaks (values are a UI's catalog keys under errors.)."""

    PRESET = "room.preset_not_allowed"
    BUSY = "room.preset_not_allowed_while_others_wait"
    EPOCHS = "room.too_many_epochs"
    IMAGES = "room.too_many_images"


class RoomRuleError(CodedError, ValueError):
    """A run the room's rules do not allow; the message is one line for the participant.
    params: presets (the allowed preset names) / count (the cap)."""


def friendly_name(rng: random.Random | None = None) -> str:
    """A random default display name such as 'Curious Otter 42'."""
    rng = rng or random.Random()
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_ANIMALS)} {rng.randint(10, 99)}"


def clean_name(name: str, limit: int = 40) -> str:
    """A display name as plain one-line text (control characters dropped, spaces collapsed, length bounded).
    Pages still show it only as text, never as markdown or HTML."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(name))
    return " ".join(text.split())[:limit]


@dataclass
class Participant:
    """One person in the room. `token` is private (it is the key in their URL); `id` is public."""

    token: str
    id: str
    name: str
    named: bool = False  # True once they confirmed (or typed) a name
    run_id: str | None = None  # their latest run
    settings: dict[str, Any] = field(default_factory=dict)  # their Train form, kept across reloads
    # The model in use on every page (an opaque reference the UI resolves; None = the shipped model), so every
    # page and every link that carries their token explains and uses the same model. Their finished run becomes
    # it (Room.adopt_result) until they choose another.
    model: str | None = None
    drawing: bytes | None = None  # their last drawing (PNG), for the inside view in another tab
    language: str = ""  # the UI language they chose ("" = none chosen), kept across reloads
    created: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)


@dataclass(frozen=True)
class RoomRules:
    """What the host allows. Presets are named by recipe ("quick", "tutorial") or CUSTOM; 0 = no cap."""

    allowed_presets: tuple[str, ...] = ("quick", "tutorial", CUSTOM)
    max_epochs: int = 0
    max_train_images: int = 0
    # While someone else's run is queued or training, only these presets may start: one participant's long run
    # must not make everyone behind them wait (the host may allow more).
    busy_presets: tuple[str, ...] = ("quick",)

    def allowed_now(self, others_waiting: bool) -> tuple[str, ...]:
        """The presets a participant may start now (others_waiting: another participant's run is queued or
        training)."""
        if not others_waiting:
            return self.allowed_presets
        busy = tuple(p for p in self.allowed_presets if p in self.busy_presets)
        return busy or self.allowed_presets[:1]

    def check(self, preset: str, config: TrainConfig, others_waiting: bool = False) -> None:
        """Raise RoomRuleError when this run breaks a rule."""
        if preset not in self.allowed_presets:
            message = f"the host allows only these presets: {', '.join(self.allowed_presets)}"
            raise RoomRuleError(message, RoomRule.PRESET, presets=self.allowed_presets)
        if preset not in self.allowed_now(others_waiting):
            busy = self.allowed_now(True)
            message = f"while others are waiting the host allows only these presets: {', '.join(busy)}"
            raise RoomRuleError(message, RoomRule.BUSY, presets=busy)
        if self.max_epochs and config.epochs > self.max_epochs:
            message = f"the host allows at most {self.max_epochs} epoch(s) per run"
            raise RoomRuleError(message, RoomRule.EPOCHS, count=self.max_epochs)
        n_train = config.limit_train or TRAIN_SIZE
        if self.max_train_images and n_train > self.max_train_images:
            raise RoomRuleError(
                f"the host allows at most {self.max_train_images:,} training images per run "
                f"(set 'Training images' to {self.max_train_images:,} or fewer)",
                RoomRule.IMAGES,
                count=self.max_train_images,
            )

    def cap(self, config: TrainConfig) -> TrainConfig:
        """The config brought within the caps (a preset loaded under the rules is then allowed as it is)."""
        changes: dict[str, int] = {}
        if self.max_epochs and config.epochs > self.max_epochs:
            changes["epochs"] = self.max_epochs
        if self.max_train_images and not 0 < config.limit_train <= self.max_train_images:
            changes["limit_train"] = self.max_train_images
        return config.replace(**changes) if changes else config

    def describe(self, labels: dict[str, str] | None = None) -> list[str]:
        """The rules in words, for the Train page (empty when nothing is restricted)."""
        labels = labels or {}
        lines = []
        if set(RoomRules().allowed_presets) - set(self.allowed_presets):
            lines.append("Presets allowed: " + ", ".join(labels.get(p, p) for p in self.allowed_presets))
        if self.max_epochs:
            lines.append(f"At most {self.max_epochs} epoch{'s' * (self.max_epochs != 1)} per run")
        if self.max_train_images:
            lines.append(f"At most {self.max_train_images:,} training images per run")
        if set(self.allowed_presets) - set(self.busy_presets):
            lines.append(
                "While others are waiting: " + ", ".join(labels.get(p, p) for p in self.allowed_now(True)) + " only"
            )
        return lines


class Room:
    """Participants by token, the host's rules and the board's clearing time; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, Participant] = {}
        self.rules = RoomRules()
        self.cleared_at = 0.0  # the board hides finished runs that ended before this
        self.rules_version = 0  # bumped on each change, so pages can say "the rules changed"
        self.language = ""  # the host's default UI language for visitors who chose none ("" = their browser's)

    def join(self, name: str = "") -> Participant:
        """A new participant with a fresh private token (and a random friendly name unless one is given)."""
        with self._lock:
            self._forget_oldest()
            person = Participant(
                token=secrets.token_urlsafe(16), id=secrets.token_hex(4), name=clean_name(name) or friendly_name()
            )
            self._by_token[person.token] = person
            return person

    def adopt(self, token: str, participant_id: str, name: str) -> Participant:
        """Take back a participant this server knew before a restart (their link's token, their public id and name
        as the drawings store remembered them), so their link finds them, and so their drawings, again."""
        with self._lock:
            person = self._by_token.get(token)
            if person is None:
                self._forget_oldest()
                name = clean_name(name) or friendly_name()
                person = Participant(token=token, id=participant_id, name=name, named=True)
                self._by_token[token] = person
            return person

    def find(self, token: str | None) -> Participant | None:
        """The participant holding this token, or None (a wrong token finds nobody)."""
        if not token:
            return None
        with self._lock:
            person = self._by_token.get(str(token))
            if person is not None:
                person.last_seen = time.time()
            return person

    def rename(self, person: Participant, name: str) -> str:
        cleaned = clean_name(name)
        if cleaned:
            person.name, person.named = cleaned, True
        return person.name

    def names(self) -> dict[str, str]:
        """Public id -> display name, for the board."""
        with self._lock:
            return {p.id: p.name for p in self._by_token.values()}

    def adopt_result(self, owner: str, run_id: str, checkpoint: object | None) -> None:
        """A run has ended: if it was its owner's latest and left a checkpoint, it becomes their model in use
        (they can switch back). `checkpoint` is the run's checkpoint path (None: nothing to use)."""
        if checkpoint is None:
            return
        with self._lock:
            for person in self._by_token.values():
                if person.id == owner and person.run_id == run_id:
                    person.model = str(checkpoint)

    def set_rules(self, rules: RoomRules) -> None:
        with self._lock:
            if rules != self.rules:
                self.rules, self.rules_version = rules, self.rules_version + 1

    def set_language(self, code: str) -> None:
        """The room's default UI language (a language code such as "zh-TW"; "" = each visitor's browser)."""
        self.language = code

    def clear_board(self) -> None:
        """Hide every finished run from the board (runs still queued or training stay)."""
        self.cleared_at = time.time()

    def _forget_oldest(self) -> None:
        """Beyond MAX_PARTICIPANTS, forget the participant idle longest among those who never trained nor chose a
        name (a flood of new visits forgets only visits), and only when there is none, the one idle longest."""
        if len(self._by_token) < MAX_PARTICIPANTS:
            return
        passers_by = [p for p in self._by_token.values() if p.run_id is None and not p.named]
        oldest = min(passers_by or self._by_token.values(), key=lambda p: p.last_seen)
        del self._by_token[oldest.token]


def probe_digit(pixels: np.ndarray) -> torch.Tensor:
    """A [0, 1] 28x28 picture as the model's normalised 1x1x28x28 input (the digit a run is watched on)."""
    return normalize(torch.as_tensor(np.asarray(pixels, dtype=np.float32)).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE))


def live_report_every(config: TrainConfig, reports: int = 150) -> int:
    """Batches between progress reports, so that a run sends about `reports` of them whatever its length (each
    report is a host sync, a probe forward pass and a point that watching pages redraw), and at least 5 per
    epoch; a small run reports every batch (so its probe chart still gets points)."""
    per_epoch = max(1, math.ceil((config.limit_train or TRAIN_SIZE) / max(1, config.batch_size)))
    return max(1, min(per_epoch * max(1, config.epochs) // reports, per_epoch // 5))
