"""Train: pick a preset (Quick by default), start a run on the shared scheduler, watch it live, keep the best.

The run belongs to the participant (a private token in the URL, see ui.participant), so a reload or the same
link in another tab or on a phone shows the same run, its curves and its Stop button. The live panel sits
right below the Start button, so after pressing it the progress bar is where the eye already is.
"""

from __future__ import annotations

import streamlit as st

from simplecnn.training.config import ConfigError, TrainConfig
from simplecnn.workshop.room import RoomRuleError, RoomRules
from simplecnn.workshop.scheduler import ClientBusy, SessionBusy
from ui import fmt, i18n, live_run, resources, session, train_form, visitor
from ui import participant as participants
from ui.i18n import error_text, status_text, t
from ui.train_form import preset_label

sched = resources.scheduler()
room = participants.room()


# ---- actions (callbacks) -------------------------------------------------------------------------------------
def _start() -> None:
    st.session_state.pop(train_form.NOTICE_KEY, None)
    person = participants.ensure()
    person.named = True  # starting a run confirms the name shown
    try:
        config = train_form.form_config().validate()
        train_form.rules().check(train_form.preset_rule(), config)
        if sched.paused:
            st.session_state[train_form.NOTICE_KEY] = ("info", "train.notice.paused", None)
        sched.estimate_seconds(config)  # raises ValueError for a device this machine lacks
        probe = train_form.watched_digit() if resources.has_data() else None
        run = sched.submit(person.id, config, probe=probe, client=visitor.client(), owner_name=person.name)
    except ClientBusy as exc:  # this browser's (or address's) quota of queued runs, set by the host
        st.session_state[train_form.NOTICE_KEY] = ("warning", "train.notice.cannot_start", exc)
    except SessionBusy as exc:
        st.session_state[train_form.NOTICE_KEY] = ("warning", "train.notice.busy", exc)
    except (RoomRuleError, ValueError) as exc:
        st.session_state[train_form.NOTICE_KEY] = ("error", "train.notice.cannot_start", exc)
    else:
        session.set_current_run(run)


def _problem(exc: Exception) -> str:
    """Why a start was refused, in the visitor's words (the room's rules name presets as the visitor reads them)."""
    if isinstance(exc, SessionBusy) and "status" in exc.params:
        return error_text(exc, status=status_text(exc.params["status"]))
    if isinstance(exc, RoomRuleError) and "presets" in exc.params:
        names = t("train.rules.list_separator").join(preset_label(p) for p in exc.params["presets"])
        return error_text(exc, presets=names)
    if isinstance(exc, ConfigError):
        return error_text(exc, field=t(f"train.field.{exc.params.get('field', 'recipe')}"))
    return error_text(exc)


def _rename() -> None:
    person = participants.ensure()
    room.rename(person, st.session_state.get("train_name", ""))


def _rules_panel(version: int) -> None:
    """The room's rules, refreshed every few seconds: a change by the host shows up without a reload."""
    if room.rules_version != version:
        st.rerun(scope="app")
    lines = _rule_lines(train_form.rules())
    if sched.paused:
        lines.append(t("train.rules.paused"))
    if lines:
        st.info(t("train.rules.info", rules=t("train.rules.separator").join(lines)))


def _rule_lines(rules: RoomRules) -> list[str]:
    """The room's rules in words (nothing when nothing is restricted)."""
    lines = []
    if set(RoomRules().allowed_presets) - set(rules.allowed_presets):
        names = t("train.rules.list_separator").join(preset_label(p) for p in rules.allowed_presets)
        lines.append(t("train.rules.presets", presets=names))
    if rules.max_epochs:
        lines.append(t("train.rules.max_epochs", count=rules.max_epochs))
    if rules.max_train_images:
        lines.append(t("train.rules.max_images", count=rules.max_train_images))
    return lines


def _wait_text(seconds: float | None) -> str:
    return t("train.measuring") if seconds is None else fmt.duration(seconds)


# ---- page --------------------------------------------------------------------------------------------------
person = participants.ensure()
train_form.prepare(person)

st.title(t("common.nav.train"))
st.caption(t("train.intro", device=resources.device_description()))
if not resources.has_data():
    st.warning(resources.missing_data_message() + " " + t("train.no_data"))

if not person.named:  # asked once, with a random friendly default already filled in
    st.text_input(
        t("train.name.ask"),
        value=person.name,
        key="train_name",
        max_chars=40,
        on_change=_rename,
    )
else:
    who, rename = st.columns([3, 2], vertical_alignment="bottom")
    who.text(t("train.name.you_are", name=person.name))  # st.text: a name is text, never markdown
    with rename.popover(t("train.name.change"), width="stretch"):
        st.text_input(t("train.name.label"), value=person.name, key="train_name", max_chars=40, on_change=_rename)
if st.session_state.get(participants.NEW_KEY):
    st.caption(t("train.name.new_participant"))

st.fragment(_rules_panel, run_every=5.0)(room.rules_version)

run = session.current_run()
busy = run is not None and run.active
allowed = train_form.allowed_presets()
train_form.model_choice()
st.segmented_control(
    t("train.preset.label"),
    allowed,
    key=train_form.PRESET_KEY,
    format_func=i18n.choices(allowed, preset_label),
    on_change=train_form.on_preset,
    required=True,
    help=t("train.preset.help", quick=preset_label(train_form.QUICK_NAME)),
)
# Always exactly one caption here: an element that comes and goes above the form would make the browser
# re-create the inputs below it and drop whatever is being typed while the app reruns.
changed = train_form.changed_fields()
preset = str(st.session_state.get(train_form.PRESET_KEY))
if preset == train_form.CUSTOM:
    st.caption(t("train.preset.custom_caption"))
elif changed:
    fields = t("train.rules.list_separator").join(t(f"train.field.{field}") for field in changed)
    st.caption(t("train.preset.changed", preset=preset_label(preset), fields=fields))
else:
    st.caption(t("train.preset.unchanged", preset=preset_label(preset)))

config: TrainConfig | None = None
estimate: float | None = None
problem = ""
try:
    config = train_form.form_config().validate()
    estimate = sched.estimate_seconds(config)
except ValueError as exc:
    config, problem = None, _problem(exc)
go, what = st.columns([1, 3], vertical_alignment="center")
go.button(
    t("train.start"),
    key="train_start",
    type="primary",
    on_click=_start,
    disabled=busy or config is None,
    width="stretch",
    help=t("train.in_progress") if busy else None,
)
if config is None:
    what.error(t("train.check_settings", problem=problem))
else:
    what.markdown(t("train.expected.label", expected=train_form.expected_text(config, estimate)))
    wait = sched.wait_if_started(config)
    if not busy and wait.ahead:  # others first: their place and an honest wait before pressing Start
        st.caption(
            t(
                "train.queue.before",
                position=wait.position,
                ahead=wait.ahead,
                start=_wait_text(wait.start_in),
                done=_wait_text(wait.done_in),
            )
        )
notice = st.session_state.get(train_form.NOTICE_KEY)
if notice:  # (kind, key, the error or None): worded now, in the language of this run
    kind, key, refused = notice
    getattr(st, kind)(t(key, problem=_problem(refused)) if refused is not None else t(key))

# The participant's run, live: right below the button, so after Start the progress bar is in view.
with st.container(key="train_live"):  # one block: what the live panel adds or drops never shifts the form
    st.fragment(live_run.panel, run_every=live_run.poll_every(run))(run.status if run is not None else None)

train_form.settings_panel()

st.caption(t("train.private_link"))
person.settings = {key: st.session_state[key] for key in train_form.SAVED if key in st.session_state}
