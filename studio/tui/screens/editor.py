"""Biên tập: the bulletin editor. The running order on the left; the chosen segment's text and how it
will be read on the right; template, voice, destinations and the estimated duration on top.
Every change is saved to the draft at once (in a worker), so a crash loses nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Input, Label, Static, TextArea
from textual.worker import Worker, WorkerState

from studio.errors import StudioError
from studio.models import Bulletin, Segment
from studio.store import Store, StoredItem
from studio.tui.dialogs.choice import ChoiceDialog, MultiChoiceDialog
from studio.tui.dialogs.confirm import ConfirmDialog
from studio.tui.messages import BulletinLoaded, DraftSaved, ReadingExplained
from studio.tui.screens.base import DeskScreen
from studio.tui.widgets.reading import ReadingPanel

EXPLAIN_DELAY_S = 0.15
"""Typing pauses this long before the reading is worked out again."""
NO_DRAFT = "Chưa có bản tin nháp.\n\nVào mục 1 Nguồn tin, đánh dấu tin bằng Space rồi nhấn n để tạo bản tin."


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} phút {secs:02d} giây" if minutes else f"{secs} giây"


def segment_label(segments: tuple[Segment, ...], index: int) -> tuple[str, str]:
    """(kind word, short content) for the running-order list."""
    seg = segments[index]
    if seg.kind == "gap":
        return "Nghỉ", f"{seg.duration_s:g} giây"
    if seg.kind == "jingle":
        return "Nhạc", seg.text
    speech = [i for i, s in enumerate(segments) if s.kind == "speech"]
    first = " ".join(seg.text.split())[:60]
    if seg.item_id is not None:
        n = sum(1 for i in speech if i <= index and segments[i].item_id is not None)
        return f"Tin {n}", first
    if index == speech[0]:
        return "Mở đầu", first
    if index == speech[-1]:
        return "Kết", first
    return "Lời", first


SAVE_RETRY_S = 5.0
"""How soon a draft whose save failed is written again."""


class EditorScreen(DeskScreen):
    """Edit the current draft."""

    SECTION = "bien-tap"
    RETRIED_GROUPS = ("save",)
    AUTO_FOCUS = "#segments"
    BINDINGS = [
        Binding("enter", "edit", "Sửa lời"),
        Binding("a", "add_item", "Thêm tin"),
        Binding("x", "remove_item", "Bỏ tin"),
        Binding("shift+up", "move(-1)", "Lên", key_display="⇧↑"),
        Binding("shift+down", "move(1)", "Xuống", key_display="⇧↓", show=False),
        Binding("m", "template", "Mẫu", show=False),
        Binding("g", "voice", "Giọng"),
        Binding("d", "destinations", "Nơi phát"),
        Binding("escape", "leave_text", "Thôi sửa", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.bulletin_id: int | None = None
        self.bulletin: Bulletin | None = None
        self.items: dict[int, StoredItem] = {}
        self.voices: dict[str, Any] = {}
        self._explain_timer: Timer | None = None
        self._save_failing = False
        """A save failed and none has succeeded since (the failure was reported once)."""

    def body(self) -> ComposeResult:
        with Horizontal(id="editor-top"):
            yield Input(placeholder="Tiêu đề bản tin", id="title")
        yield Static("", id="editor-summary")
        with Horizontal(id="editor"):
            yield DataTable(id="segments", cursor_type="row", zebra_stripes=True)
            with Vertical(id="editor-right"):
                yield TextArea(
                    id="segment-text", soft_wrap=True, show_line_numbers=False, tab_behavior="focus"
                )
                yield ReadingPanel(id="reading")
        yield Label("", id="status")

    def on_mount(self) -> None:
        table = self.query_one("#segments", DataTable)
        table.add_column("Đoạn", width=7, key="kind")
        table.add_column("Nội dung", width=22, key="text")
        self.query_one("#segment-text", TextArea).disabled = True

    def on_screen_resume(self) -> None:
        wanted = self.studio.desk.bulletin_id
        if self.bulletin is None or wanted != self.bulletin_id:
            self.load()
        else:  # the voice or the lexicon may have changed in another section
            self.update_summary()
            self.explain_soon()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        app = self.studio
        registry = app.voice_registry()
        with Store(app.workspace.db_path) as store:
            bid = app.desk.bulletin_id
            if bid is None:
                drafts = [b for b in store.bulletin_ids() if store.get_bulletin(b).state == "draft"]
                bid = drafts[0] if drafts else None
            stored = store.get_bulletin(bid) if bid is not None else None
            items = {i: store.get_item(i) for i in stored.bulletin.item_ids} if stored else {}
        self.voices = {v.id: v for v in registry.profiles()}
        self.post_message(BulletinLoaded(stored, items))

    @on(BulletinLoaded)
    def loaded(self, message: BulletinLoaded) -> None:
        stored = message.stored
        self.items = message.items
        text = self.query_one("#segment-text", TextArea)
        if stored is None:
            self.bulletin, self.bulletin_id = None, None
            self.query_one("#segments", DataTable).clear()
            self.query_one("#title", Input).value = ""
            text.disabled = True
            text.load_text("")
            self.query_one("#reading", ReadingPanel).show_note(NO_DRAFT)
            self.query_one("#editor-summary", Static).update("")
            self.set_status("Chưa có bản tin nháp.")
            return
        self.bulletin, self.bulletin_id = stored.bulletin, stored.id
        self.studio.desk.bulletin_id = stored.id
        self.query_one("#title", Input).value = stored.bulletin.title
        speech = [i for i, seg in enumerate(stored.bulletin.segments) if seg.kind == "speech"]
        self.show_segments(speech[0] if speech else 0)  # start on the opening, not a jingle
        self.update_summary()
        self.set_status(f"Bản nháp số {stored.id} · Enter sửa lời, Esc thôi sửa · lưu sau mỗi thay đổi")
        self.query_one("#segments", DataTable).focus()

    # -- display --------------------------------------------------------------------------------------

    def show_segments(self, cursor: int) -> None:
        assert self.bulletin is not None
        table = self.query_one("#segments", DataTable)
        table.clear()
        segs = self.bulletin.segments
        for i in range(len(segs)):
            kind, text = segment_label(segs, i)
            table.add_row(kind, text, key=str(i))
        if segs:
            table.move_cursor(row=min(cursor, len(segs) - 1))
        self.show_segment()

    def cursor(self) -> int | None:
        table = self.query_one("#segments", DataTable)
        if self.bulletin is None or not table.row_count:
            return None
        return table.cursor_row

    @on(DataTable.RowHighlighted, "#segments")
    def show_segment(self) -> None:
        index = self.cursor()
        text = self.query_one("#segment-text", TextArea)
        if index is None or self.bulletin is None:
            return
        seg = self.bulletin.segments[index]
        if seg.kind == "speech":
            text.disabled = False
            if text.text != seg.text:
                text.load_text(seg.text)
            self.explain_soon()
        else:
            text.load_text("")
            text.disabled = True
            self.query_one("#reading", ReadingPanel).show_note(
                f"Đoạn nghỉ {seg.duration_s:g} giây giữa hai tin: không có lời."
                if seg.kind == "gap"
                else f"Nhạc hiệu: {seg.text}"
            )

    def voice(self) -> Any:
        desk = self.studio.desk
        voice_id = desk.voice_for(self.bulletin_id, self.studio.workspace.settings.default_voice)
        return self.voices.get(voice_id)

    def update_summary(self) -> None:
        if self.bulletin is None:
            return
        desk = self.studio.desk
        voice = self.voice()
        voice_name = voice.name if voice else desk.voice_for(self.bulletin_id, "?")
        profiles = ", ".join(desk.profiles_for(self.bulletin_id))
        n_items = len(self.bulletin.item_ids)
        self.query_one("#editor-summary", Static).update(
            f"Mẫu: [b]{self.bulletin.template}[/] · {n_items} tin · giọng: [b]{voice_name}[/] · "
            f"nơi phát: [b]{profiles}[/] · ước tính: [b]{self._estimate}[/]"
        )
        self.estimate()

    _estimate = "…"

    def set_status(self, text: str) -> None:
        self.query_one("#status", Label).update(text)

    # -- reading and duration (worker threads) --------------------------------------------------------

    def explain_soon(self) -> None:
        if self._explain_timer is not None:
            self._explain_timer.stop()
        self._explain_timer = self.set_timer(EXPLAIN_DELAY_S, self._explain_now)

    def _explain_now(self) -> None:
        index = self.cursor()
        if index is None or self.bulletin is None:
            return
        seg = self.bulletin.segments[index]
        if seg.kind == "speech":
            voice = self.voice()
            self.explain(seg.text, voice.region if voice else self.studio.workspace.settings.region)

    @work(thread=True, exclusive=True, group="explain", exit_on_error=False)
    def explain(self, text: str, region: str) -> None:
        from studio.text import explain, load_lexicon

        tokens = explain(text, region, load_lexicon(self.studio.workspace.lexicon_path))
        self.post_message(ReadingExplained(text, tokens))

    @on(ReadingExplained)
    def explained(self, message: ReadingExplained) -> None:
        index = self.cursor()
        if index is not None and self.bulletin and self.bulletin.segments[index].text == message.text:
            self.query_one("#reading", ReadingPanel).show(message.tokens)

    @work(thread=True, exclusive=True, group="estimate", exit_on_error=False)
    def estimate(self) -> None:
        """Spoken words at the voice's rate, plus the front-end's pauses and the gaps."""
        from studio.text import load_lexicon, script

        bulletin, voice = self.bulletin, self.voice()
        if bulletin is None:
            return
        lexicon = load_lexicon(self.studio.workspace.lexicon_path)
        region = voice.region if voice else self.studio.workspace.settings.region
        rate_wpm = voice.rate_wpm if voice else 165
        seconds = 0.0
        for seg in bulletin.segments:
            if seg.kind == "gap":
                seconds += seg.duration_s
            elif seg.kind == "speech" and seg.text.strip():
                for sentence in script(seg.text, region, lexicon):
                    seconds += len(sentence.text.split()) * 60.0 / rate_wpm + sentence.pause_s
        self.app.call_from_thread(self._estimated, format_duration(seconds))

    def _estimated(self, text: str) -> None:
        if text != self._estimate:
            self._estimate = text
            self.update_summary()

    # -- editing ----------------------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#segments")
    def action_edit(self) -> None:
        text = self.query_one("#segment-text", TextArea)
        if not text.disabled:
            text.focus()

    def action_leave_text(self) -> None:
        self.query_one("#segments", DataTable).focus()

    @on(TextArea.Changed, "#segment-text")
    def text_changed(self, event: TextArea.Changed) -> None:
        index = self.cursor()
        if index is None or self.bulletin is None:
            return
        seg = self.bulletin.segments[index]
        new = event.text_area.text
        if seg.kind != "speech" or new == seg.text:
            return
        self.replace_segments(
            self.bulletin.segments[:index] + (replace(seg, text=new),) + self.bulletin.segments[index + 1 :],
            cursor=index,
            relist=False,
        )
        kind, short = segment_label(self.bulletin.segments, index)
        self.query_one("#segments", DataTable).update_cell(str(index), "text", short)
        self.explain_soon()

    @on(Input.Changed, "#title")
    def title_changed(self, event: Input.Changed) -> None:
        if self.bulletin is not None and event.value.strip() and event.value.strip() != self.bulletin.title:
            self.bulletin = replace(self.bulletin, title=event.value)
            self.save()

    @on(Input.Submitted, "#title")
    def title_done(self) -> None:
        self.query_one("#segments", DataTable).focus()

    def replace_segments(self, segments: tuple[Segment, ...], *, cursor: int, relist: bool = True) -> None:
        assert self.bulletin is not None
        item_ids = tuple(s.item_id for s in segments if s.item_id is not None)
        self.bulletin = replace(self.bulletin, segments=segments, item_ids=item_ids)
        if relist:
            self.show_segments(cursor)
        self.save()
        self.estimate()

    def save(self) -> None:
        """Save the draft now, in a worker; changes made meanwhile go in its next write (newest wins)."""
        if self.bulletin is None or self.bulletin_id is None:
            return
        app = self.studio
        if app.saver.offer(app.saver.next_seq(), self.bulletin, self.bulletin_id, app.desk.copy()):
            self._drain()

    def _drain(self) -> None:
        app = self.studio

        def write() -> None:
            app.saver.drain(lambda bid, seq: self.post_message(DraftSaved(bid, seq)))

        self.run_worker(write, thread=True, group="save", exit_on_error=False)

    @on(Worker.StateChanged)
    def save_failed(self, event: Worker.StateChanged) -> None:
        """A failed save (the store busy past its timeout, a full or read-only disk) is shown by the base
        screen; the draft stays offered and is written again every SAVE_RETRY_S until it lands, without
        waiting for the user's next change. Was: retried only on the next change, so a change made just
        before quitting was lost."""
        if event.worker.group == "save" and event.state == WorkerState.ERROR:
            self.set_status("Bản nháp chưa lưu được · sẽ thử lại")
            if not self._save_failing:  # once per run of failures: a notice, not a dialog every retry
                self._save_failing = True
                error = event.worker.error
                title = error.title if isinstance(error, StudioError) else "Chưa lưu được bản nháp"
                self.notify(f"{error}; bản nháp sẽ được lưu lại tự động.", title=title, severity="error",
                            timeout=10)
            self.set_timer(SAVE_RETRY_S, self.retry_save)

    def retry_save(self) -> None:
        if self.studio.saver.resume():
            self._drain()

    @on(DraftSaved)
    def saved(self, message: DraftSaved) -> None:
        self._save_failing = False
        self.set_status(f"Bản nháp số {message.bulletin_id} · đã lưu")

    # -- running order --------------------------------------------------------------------------------

    def item_positions(self) -> list[int]:
        assert self.bulletin is not None
        return [i for i, s in enumerate(self.bulletin.segments) if s.item_id is not None]

    def action_move(self, step: int) -> None:
        index = self.cursor()
        if index is None or self.bulletin is None:
            return
        positions = self.item_positions()
        if index not in positions:
            self.notify("Chọn một tin (dòng 'Tin …') để đổi thứ tự.", severity="warning")
            return
        k = positions.index(index) + step
        if not 0 <= k < len(positions):
            return
        other = positions[k]
        segs = list(self.bulletin.segments)
        segs[index], segs[other] = segs[other], segs[index]
        self.replace_segments(tuple(segs), cursor=other)

    def action_remove_item(self) -> None:
        index = self.cursor()
        if index is None or self.bulletin is None:
            return
        if index not in self.item_positions():
            self.notify(
                "Chỉ bỏ được tin (dòng 'Tin …'); lời mở đầu và lời kết thì sửa chữ.", severity="warning"
            )
            return
        if len(self.item_positions()) == 1:
            self.notify("Bản tin cần ít nhất một tin.", severity="warning")
            return
        removed = self.bulletin.segments[index].item_id
        self.relayout([i for i in self.current_order() if i != removed], cursor=index)

    def current_order(self) -> list[int]:
        assert self.bulletin is not None
        return [s.item_id for s in self.bulletin.segments if s.kind == "speech" and s.item_id is not None]

    def action_add_item(self) -> None:
        if self.bulletin is None:
            self.notify(NO_DRAFT.split("\n")[-1], severity="warning")
            return
        self.pick_item()

    @work(thread=True, exclusive=True, group="pick", exit_on_error=False)
    def pick_item(self) -> None:
        from studio.models import ItemState

        with Store(self.studio.workspace.db_path) as store:
            rows = [r for r in store.items() if r.state != ItemState.ERROR]
        used = set(self.bulletin.item_ids) if self.bulletin else set()
        options = [(str(r.id), f"{r.item.priority.label} · {r.item.title}") for r in rows if r.id not in used]
        self.app.call_from_thread(self._offer_items, options, {r.id: r for r in rows})

    def _offer_items(self, options: list[tuple[str, str]], rows: dict[int, StoredItem]) -> None:
        if not options:
            self.notify("Mọi tin đã ở trong bản tin. Nhận thêm tin ở mục 1 Nguồn tin.", severity="warning")
            return

        def chosen(key: str | None) -> None:
            if key is not None and self.bulletin is not None:
                self.items[int(key)] = rows[int(key)]
                order = [*self.current_order(), int(key)]
                self.relayout(order, cursor=None)

        self.app.push_screen(ChoiceDialog("Thêm tin vào bản tin", options), chosen)

    @work(thread=True, exclusive=True, group="compose", exit_on_error=False)
    def relayout(self, order: list[int], cursor: int | None, template_id: str | None = None) -> None:
        """Compose the running order again for `order` (keeping edits unless the template changes)."""
        from studio.compose import compose, load_template, load_variables
        from studio.models import ItemState
        from studio.tui.running_order import merge

        assert self.bulletin is not None
        current = self.bulletin
        ws = self.studio.workspace
        extra = ws.home / "templates"
        template = load_template(template_id or current.template, extra_dir=extra)
        with Store(ws.db_path) as store:
            items = [(i, store.get_item(i).item) for i in order]
            for item_id in order:
                if item_id not in current.item_ids:
                    store.set_item_state(item_id, ItemState.USED, actor="tui")
        today = current.created.date() if current.created else self.studio.compose_date()
        fresh = compose(
            template, items, ws.settings, today=today, title=current.title, variables=load_variables(extra)
        )
        if template_id is None:
            result = merge(fresh, current, order)
        else:
            result = replace(
                current,
                template=fresh.template,
                segments=fresh.segments,
                item_ids=fresh.item_ids,
                priority=fresh.priority,
                music_bed=fresh.music_bed,
            )
        self.app.call_from_thread(self._relaid, result, cursor)

    def _relaid(self, bulletin: Bulletin, cursor: int | None) -> None:
        self.bulletin = bulletin
        if cursor is None:  # an added item: show it (the last item)
            cursor = self.item_positions()[-1]
        self.replace_segments(bulletin.segments, cursor=min(cursor, len(bulletin.segments) - 1))
        self.update_summary()

    # -- template, voice, destinations ----------------------------------------------------------------

    def action_template(self) -> None:
        if self.bulletin is None:
            return
        from studio.config import shipped_dir

        ws = self.studio.workspace
        names = sorted(
            {
                p.stem
                for d in (shipped_dir("templates"), ws.home / "templates")
                if d.is_dir()
                for p in d.glob("*.toml")
            }
        )

        def chosen(name: str | None) -> None:
            if name is None:
                return

            def confirmed(ok: bool | None) -> None:
                if ok and self.bulletin is not None:
                    self.relayout(self.current_order(), cursor=0, template_id=name)

            self.app.push_screen(
                ConfirmDialog("Đổi mẫu bản tin", f"Soạn lại bản tin theo mẫu {name}? Lời đã sửa sẽ mất."),
                confirmed,
            )

        self.app.push_screen(
            ChoiceDialog("Chọn mẫu bản tin", [(n, n) for n in names], current=self.bulletin.template), chosen
        )

    def action_voice(self) -> None:
        if self.bulletin is None:
            return
        options = [(v.id, f"{v.name} ({v.id})") for v in self.voices.values()]

        def chosen(voice_id: str | None) -> None:
            if voice_id is not None:
                self.studio.desk.voices[str(self.bulletin_id)] = voice_id
                self.update_summary()
                self.save()
                self.explain_soon()

        current = self.voice()
        self.app.push_screen(
            ChoiceDialog("Chọn giọng đọc", options, current=current.id if current else None), chosen
        )

    def action_destinations(self) -> None:
        if self.bulletin is None:
            return
        from studio.audio.profiles import load_profiles
        from studio.tui.produce import renderable

        chosen_now = set(self.studio.desk.profiles_for(self.bulletin_id))
        options = [
            (p.id, f"{p.id}: {p.name}", p.id in chosen_now) for p in load_profiles().values() if renderable(p)
        ]

        def chosen(ids: list[str] | None) -> None:
            if ids is None:
                return
            if not ids:
                self.notify("Cần chọn ít nhất một nơi phát.", severity="warning")
                return
            self.studio.desk.profiles[str(self.bulletin_id)] = ids
            self.update_summary()
            self.save()

        self.app.push_screen(MultiChoiceDialog("Chọn nơi phát (bản âm thanh cần làm)", options), chosen)
