"""Train: pick a preset (Quick by default), start a run on the shared scheduler, watch it live, keep the best.

The run belongs to the participant (a private token in the URL, see ui.participant), so a reload or the same
link in another tab or on a phone shows the same run, its curves and its Stop button. The live panel sits
right below the Start button, so after pressing it the progress bar is where the eye already is.
"""

from __future__ import annotations

import streamlit as st

from simplecnn.training.config import TrainConfig
from simplecnn.workshop.room import RoomRuleError
from simplecnn.workshop.scheduler import SessionBusy
from ui import live_run, resources, session, train_form
from ui import participant as participants

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
            st.session_state[train_form.NOTICE_KEY] = (
                "info",
                "The host has paused new starts: your run waits in the queue until they resume.",
            )
        sched.estimate_seconds(config)  # raises ValueError for a device this machine lacks
        run = sched.submit(person.id, config, probe=train_form.watched_digit() if resources.has_data() else None)
    except SessionBusy as exc:
        st.session_state[train_form.NOTICE_KEY] = ("warning", f"One run at a time: {exc}. Stop it first.")
    except (RoomRuleError, ValueError) as exc:
        st.session_state[train_form.NOTICE_KEY] = ("error", f"Cannot start: {exc}")
    else:
        session.set_current_run(run)


def _rename() -> None:
    person = participants.ensure()
    room.rename(person, st.session_state.get("train_name", ""))


def _rules_panel(version: int) -> None:
    """The room's rules, refreshed every few seconds: a change by the host shows up without a reload."""
    if room.rules_version != version:
        st.rerun(scope="app")
    lines = train_form.rules().describe(train_form.RULE_LABELS)
    if sched.paused:
        lines.append("New starts are paused by the host: runs wait in the queue")
    if lines:
        st.info("Room rules: " + " · ".join(lines) + ".")


# ---- page --------------------------------------------------------------------------------------------------
person = participants.ensure()
train_form.prepare(person)

st.title("Train")
st.caption(
    f"Train SimpleCNN on MNIST on this server ({resources.device_description()}). Your run follows this "
    f"page's link: reload, switch pages or open it on your phone."
)
if not resources.has_data():
    st.warning(resources.missing_data_message() + " Without it, training will try to download MNIST (needs internet).")

if not person.named:  # asked once, with a random friendly default already filled in
    st.text_input(
        "Your name on the class board (press Enter to keep it)",
        value=person.name,
        key="train_name",
        max_chars=40,
        on_change=_rename,
    )
else:
    who, rename = st.columns([3, 2], vertical_alignment="bottom")
    who.text(f"You are {person.name} on the class board.")  # st.text: a name is text, never markdown
    with rename.popover("Change name", width="stretch"):
        st.text_input("Your name on the board", value=person.name, key="train_name", max_chars=40, on_change=_rename)
if st.session_state.get(participants.NEW_KEY):
    st.caption("This link's participant is not known to this server (it may have restarted): you have a new one.")

st.fragment(_rules_panel, run_every=5.0)(room.rules_version)

run = session.current_run()
busy = run is not None and run.active
allowed = train_form.allowed_labels()
st.segmented_control(
    "Preset",
    allowed,
    key=train_form.PRESET_KEY,
    on_change=train_form.on_preset,
    required=True,
    help=f"{train_form.QUICK_LABEL}: a short run with a one-cycle learning rate (≈98%+). Tutorial: the "
    "notebook's 15 epochs with StepLR. Custom: whatever you set under Settings.",
)
# Always exactly one caption here: an element that comes and goes above the form would make the browser
# re-create the inputs below it and drop whatever is being typed while the app reruns.
changed = train_form.changed_fields()
if st.session_state.get(train_form.PRESET_KEY) == "Custom":
    st.caption("Custom: the settings below, as you set them.")
elif changed:
    st.caption(
        f"Changed from the {st.session_state[train_form.PRESET_KEY]} preset ({', '.join(changed)}): "
        f"this run is recorded as a custom recipe."
    )
else:
    st.caption(f"The {st.session_state[train_form.PRESET_KEY]} preset. Open Settings to make your own recipe.")

config: TrainConfig | None = None
estimate: float | None = None
problem = ""
try:
    config = train_form.form_config().validate()
    estimate = sched.estimate_seconds(config)
except ValueError as exc:
    config, problem = None, str(exc)
go, what = st.columns([1, 3], vertical_alignment="center")
go.button(
    "Start training",
    key="train_start",
    type="primary",
    on_click=_start,
    disabled=busy or config is None,
    width="stretch",
    help="Your run is in progress." if busy else None,
)
if config is None:
    what.error(f"Check the settings: {problem}")
else:
    what.markdown(f"**Expected time on this machine:** {train_form.expected_text(config, estimate)}")
notice = st.session_state.get(train_form.NOTICE_KEY)
if notice:
    getattr(st, notice[0])(notice[1])

# The participant's run, live: right below the button, so after Start the progress bar is in view.
with st.container(key="train_live"):  # one block: what the live panel adds or drops never shifts the form
    st.fragment(live_run.panel, run_every=live_run.poll_every(run))(run.status if run is not None else None)

train_form.settings_panel()

st.caption(
    "This page's address is your private link: open it on another device to follow and stop your run. "
    "Anyone with it can stop your run, so keep it to yourself."
)
person.settings = {key: st.session_state[key] for key in train_form.SAVED if key in st.session_state}
