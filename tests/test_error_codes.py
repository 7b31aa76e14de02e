"""Every typed code the library gives a visitor-facing error or run has its words in both catalogs, and coded
errors keep their code through pickling (Ray, multiprocessing) while their English message stays for the CLI."""

from __future__ import annotations

import pickle

import pytest

from simplecnn.checkpoint import CheckpointError, CheckpointProblem, load_checkpoint
from simplecnn.data import DataProblem
from simplecnn.device import DeviceProblem
from simplecnn.errors import CodedError, StorageProblem
from simplecnn.inference.preprocess import ImageProblem
from simplecnn.training.config import ConfigError, ConfigProblem, TrainConfig
from simplecnn.training.events import RunFailure, RunStatus
from simplecnn.workshop.room import RoomRule, RoomRuleError, RoomRules
from simplecnn.workshop.scheduler import CancelReason, SchedulerProblem
from ui import i18n

CODES = [CheckpointProblem, DataProblem, DeviceProblem, ImageProblem, ConfigProblem, RunFailure, RoomRule]
CODES.append(SchedulerProblem)
CODES.append(StorageProblem)


@pytest.mark.parametrize("codes", CODES, ids=lambda codes: codes.__name__)
def test_every_error_code_has_words_in_both_languages(codes):
    for lang in i18n.LANGUAGES:
        missing = [code.value for code in codes if f"errors.{code.value}" not in i18n.catalog(lang)]
        assert not missing, f"{lang}: {missing}"


def test_every_run_state_and_cancel_reason_has_words():
    for lang in i18n.LANGUAGES:
        assert {f"status.{s.value}" for s in RunStatus} <= set(i18n.catalog(lang))
        assert {f"status.cancel.{r.name.lower()}" for r in CancelReason} <= set(i18n.catalog(lang))


def test_a_coded_error_keeps_message_code_and_params_through_pickle():
    exc = RoomRuleError("the host allows at most 2 epoch(s) per run", RoomRule.EPOCHS, count=2)
    back = pickle.loads(pickle.dumps(exc))
    assert isinstance(back, RoomRuleError) and isinstance(back, ValueError) and isinstance(back, CodedError)
    assert str(back) == str(exc) and back.code == RoomRule.EPOCHS and back.params == {"count": 2}


def test_library_errors_carry_codes_the_ui_words_and_english_for_the_cli():
    with pytest.raises(CheckpointError) as bad:
        load_checkpoint(b"not a checkpoint at all")
    assert bad.value.code == CheckpointProblem.DAMAGED and "damaged" in str(bad.value)
    with pytest.raises(ConfigError) as config:
        TrainConfig(batch_size=0).validate()
    assert config.value.params == {"field": "batch_size"} and str(config.value) == "batch_size must be at least 1"
    with pytest.raises(RoomRuleError) as rule:
        RoomRules(allowed_presets=("quick",)).check("tutorial", TrainConfig())
    assert rule.value.code == RoomRule.PRESET and rule.value.params["presets"] == ("quick",)
    words = i18n.translate(i18n.ZH_TW, f"errors.{rule.value.code.value}", presets="快速")
    assert words == "主持人只允許這些預設組合：快速"
