"""A minimal Streamlit client over the app's own websocket protocol, for load tests.

It sends what the browser's Streamlit frontend sends (a page load as `rerun_script` with the page name, widget
values and button triggers, the timed reruns a fragment's `run_every` asks for) and keeps what a browser would
show from the script's last run (texts, widget ids, exceptions), without rendering anything. A browser page
costs a core for seconds; this costs milliseconds, so the load test measures the server, not the browsers.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.typing import Subprotocol


@dataclass
class RunView:
    """What one script run (full or fragment) put on the page."""

    fragment_id: str = ""
    texts: list[tuple[str, str]] = field(default_factory=list)  # (fragment id or "", text)
    exceptions: list[str] = field(default_factory=list)


def _texts(element) -> list[str]:
    kind = element.WhichOneof("type")
    if kind in ("markdown", "text", "heading", "alert", "code"):
        return [getattr(element, kind).body]
    if kind == "progress":
        return [element.progress.text]
    return []


class StreamlitSession:
    """One browser-like session: `await StreamlitSession.open(url, "train")`, then click/set/poll."""

    def __init__(self, ws, page: str, query_string: str = ""):
        self.ws, self.page = ws, page
        self.query_string = query_string  # the page URL's query (e.g. "p=<participant token>"), as the app sets it
        self.page_script_hash = ""
        self.running = False
        self.runs = 0  # script runs finished (full and fragment)
        self.view = RunView()  # the run in progress, or the last one
        self.last_full: RunView | None = None
        self.last_by_fragment: dict[str, RunView] = {}
        self.widget_ids: dict[str, str] = {}  # element id -> fragment id, from every run so far
        self.auto_reruns: dict[str, float] = {}  # fragment id -> seconds (st.fragment(run_every=...))
        self.exceptions: list[str] = []
        self.errors: list[str] = []
        self.closed: str | None = None
        self._idle = asyncio.Event()
        self._rerun_follows = False
        self._lock = asyncio.Lock()  # one rerun in flight at a time, clicks and timers alike
        self._reader = asyncio.create_task(self._read())
        self._poller = asyncio.create_task(self._poll())

    @classmethod
    async def open(
        cls, url: str, page: str, timeout: float = 120, query_string: str = "", headers: dict[str, str] | None = None
    ) -> StreamlitSession:
        """A new websocket session on /page; `query_string` is the URL's query (a reload of a page whose URL
        carries a participant token is a new session with the same query string); `headers` go with the
        handshake (a Cookie: the same browser; X-Forwarded-For: a client address behind a local proxy)."""
        ws_url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        ws = await asyncio.wait_for(
            websockets.connect(
                ws_url,
                subprotocols=[Subprotocol("streamlit")],
                max_size=None,
                open_timeout=timeout,
                additional_headers=headers,
            ),
            timeout,
        )
        session = cls(ws, page, query_string)
        await session.rerun(timeout=timeout)
        return session

    # ---- sending ---------------------------------------------------------------------------------------------
    async def _send(self, widgets: list[WidgetState], fragment_id: str = "", auto: bool = False) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_name = self.page
        state.page_script_hash = self.page_script_hash
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.widget_states.widgets.extend(widgets)
        self._idle.clear()
        self.view = RunView(fragment_id=fragment_id)
        await self.ws.send(msg.SerializeToString())

    async def rerun(
        self, widgets: list[WidgetState] | None = None, fragment_id: str = "", timeout: float = 120
    ) -> RunView | None:
        """Send one rerun and wait until the server reports the script idle again."""
        async with self._lock:
            await self._send(widgets or [], fragment_id)
            await self.wait_idle(timeout)
        return self.last_by_fragment.get(fragment_id, self.last_full) if fragment_id else self.last_full

    async def wait_idle(self, timeout: float = 120) -> None:
        await asyncio.wait_for(self._idle.wait(), timeout)
        if self.closed:
            raise ConnectionError(self.closed)

    def widget(self, key: str) -> tuple[str, str]:
        """(element id, fragment id) of the widget with this user key, as last rendered."""
        for element_id, fragment in self.widget_ids.items():
            if element_id.endswith("-" + key):
                return element_id, fragment
        raise KeyError(f"no widget with key {key!r} on /{self.page}")

    async def click(self, key: str, timeout: float = 120) -> RunView | None:
        element_id, fragment = self.widget(key)
        return await self.rerun([WidgetState(id=element_id, trigger_value=True)], fragment, timeout)

    async def choose(self, key: str, option: str, timeout: float = 120) -> RunView | None:
        """Pick one option of a segmented control / pills (their value is the list of picked option labels)."""
        element_id, fragment = self.widget(key)
        state = WidgetState(id=element_id)
        state.string_array_value.data.append(option)
        return await self.rerun([state], fragment, timeout)

    async def set_number(self, key: str, value: float, timeout: float = 120) -> RunView | None:
        element_id, fragment = self.widget(key)
        state = WidgetState(id=element_id)
        if isinstance(value, int):
            state.int_value = value
        else:
            state.double_value = value
        return await self.rerun([state], fragment, timeout)

    async def set_json(self, element_id: str, value: str, fragment: str = "", timeout: float = 120) -> RunView | None:
        """Send a JSON value for a widget by its element id (a custom component's value, e.g. a canvas)."""
        state = WidgetState(id=element_id)
        state.json_value = value
        return await self.rerun([state], fragment, timeout)

    def query_param(self, name: str) -> str:
        """One value of the page URL's query string as the app last set it ('' when absent)."""
        values = parse_qs(self.query_string).get(name)
        return values[0] if values else ""

    def shown_text(self) -> str:
        """Texts of the last full run, with each fragment's part replaced by that fragment's latest run."""
        full = [] if self.last_full is None else self.last_full.texts
        parts = [text for fragment, text in full if fragment not in self.last_by_fragment]
        for view in self.last_by_fragment.values():
            parts.extend(text for _, text in view.texts)
        return "\n".join(parts)

    async def close(self) -> None:
        for task in (self._poller, self._reader):
            task.cancel()
        await self.ws.close()

    # ---- receiving -------------------------------------------------------------------------------------------
    async def _read(self) -> None:
        try:
            async for data in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg)
        except websockets.ConnectionClosed as exc:
            self.closed = f"websocket closed: {exc}"
        finally:
            self.closed = self.closed or "websocket closed"
            self._idle.set()

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":  # sent for fragment runs too
            self.page_script_hash = msg.new_session.page_script_hash or self.page_script_hash
            if not self.view.fragment_id:
                self.auto_reruns.clear()  # a full run sets up its fragments' timers afresh
                self.view = RunView()
        elif kind == "navigation" and msg.navigation.page_script_hash:
            self.page_script_hash = msg.navigation.page_script_hash
        elif kind == "session_status_changed":
            self.running = msg.session_status_changed.script_is_running
            if self.running:
                self._rerun_follows = False
            elif not self._rerun_follows:
                self._idle.set()
        elif kind == "delta":
            self._handle_delta(msg)
        elif kind == "page_info_changed":  # the app set st.query_params: the browser's URL changes
            self.query_string = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            self.auto_reruns.clear()
        elif kind == "script_finished":
            self.runs += 1
            status = msg.script_finished
            # st.rerun(): the script stops, and another run starts at once; not idle in between.
            self._rerun_follows = status == ForwardMsg.FINISHED_EARLY_FOR_RERUN
            if status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                self.last_by_fragment[self.view.fragment_id] = self.view
            elif status == ForwardMsg.FINISHED_SUCCESSFULLY:
                self.last_full = self.view
                self.last_by_fragment.clear()
            self.view = RunView()

    def _handle_delta(self, msg: ForwardMsg) -> None:
        delta = msg.delta
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        self.view.texts.extend((delta.fragment_id, text) for text in _texts(element))
        kind = element.WhichOneof("type")
        if kind == "exception":
            text = f"{element.exception.type}: {element.exception.message}"
            self.view.exceptions.append(text)
            self.exceptions.append(text)
        elif kind is not None and hasattr(getattr(element, kind), "id") and getattr(element, kind).id:
            self.widget_ids[getattr(element, kind).id] = delta.fragment_id

    async def _poll(self) -> None:
        """Fire each fragment's timed rerun, as the browser's timers do (skipped while a run is in progress)."""
        due: dict[str, float] = {}
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            for fragment, interval in list(self.auto_reruns.items()):
                if fragment not in due:
                    due[fragment] = now + interval
                elif now >= due[fragment]:
                    due[fragment] = now + interval
                    if not self._lock.locked() and not self.closed:
                        try:
                            async with self._lock:
                                await self._send([], fragment, auto=True)
                                await self.wait_idle(120)
                        except (TimeoutError, ConnectionError) as exc:
                            self.errors.append(f"timed rerun of the live panel: {type(exc).__name__} {exc}")
            for fragment in list(due):
                if fragment not in self.auto_reruns:
                    del due[fragment]
