"""My drawings: the digits you labelled on Draw (delete, download, the room's class set), a fine-tune of the
model in use on them with its before/after, the model to take home, and read-only links to your runs."""

from __future__ import annotations

import streamlit as st

from ui import personal, personal_finetune, personal_share
from ui.i18n import t

st.title(t("common.nav.my_drawings"))
st.caption(t("personal.intro"))
store, problem = personal.open_store()
if store is None:
    st.error(t("personal.problem", problem=problem))
    st.stop()
person = personal.owner(store)
assert person is not None  # owner(create=True) always finds or makes one
mine = personal.drawings_section(store, person)
personal_finetune.finetune_section(person, mine)
personal_share.export_section()
personal_share.share_section(person)
