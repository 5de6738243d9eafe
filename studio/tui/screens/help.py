"""`?`: what each section is for, the keys, and the whole job from an item to a dispatched package."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

HELP_TEXT = """\
[b]Cách làm một bản tin, chỉ bằng bàn phím[/b]
 1. [b]1 Nguồn tin[/b]: xem tin đến. [b]i[/b] nhận tin từ tệp. [b]↑ ↓[/b] chọn tin, [b]Space[/b] đánh dấu,
    [b]n[/b] tạo bản tin từ các tin đã đánh dấu. [b]/[/b] tìm, [b]p[/b] lọc theo mức độ.
 2. [b]2 Biên tập[/b]: [b]↑ ↓[/b] chọn đoạn, [b]Enter[/b] sửa lời (Esc để thôi sửa). Khung
    [b]Cách đọc[/b] cho biết máy sẽ đọc thế nào; chữ tô màu là chỗ được đọc khác chữ viết.
    [b]a[/b] thêm tin, [b]x[/b] bỏ tin, [b]Ctrl+↑ / Ctrl+↓[/b] đổi thứ tự, [b]m[/b] đổi mẫu,
    [b]g[/b] chọn giọng đọc, [b]d[/b] chọn nơi phát. Bản nháp được lưu sau mỗi thay đổi.
 3. [b]3 Sản xuất[/b]: [b]r[/b] dựng âm thanh, [b]Esc[/b] huỷ. Xem độ lớn (LUFS), biên độ và
    đỉnh thực (dBTP) của từng bản; [b]l[/b] nghe / dừng khi máy có loa.
 4. [b]4 Duyệt & phát[/b]: [b]b[/b] đóng gói tin, [b]k[/b] ký duyệt, [b]s[/b] gửi đi; bảng cho biết
    trạng thái từng gói.
 5. [b]5 Công việc[/b]: các việc đang chạy và tiến độ.
 6. [b]6 Giọng đọc[/b]: các giọng, giọng nào dùng được trên máy này; [b]t[/b] đọc thử, [b]Enter[/b]
    chọn giọng cho bản tin.
 7. [b]7 Từ điển[/b]: dạy máy đọc chữ viết tắt hoặc tên riêng: gõ chữ viết, cách đọc,
    [b]Enter[/b] để lưu; [b]t[/b] nghe thử; [b]Delete[/b] xoá. Lần dựng sau sẽ đọc theo cách mới.

[b]Phím dùng ở mọi nơi[/b]
 [b]1–7[/b] chuyển mục · [b]Tab / Shift+Tab[/b] sang ô kế tiếp · [b]?[/b] trợ giúp này ·
 [b]Ctrl+P[/b] tìm lệnh · [b]q[/b] thoát. Chuột cũng dùng được: bấm vào tên mục, nút hoặc dòng.
"""


class HelpScreen(ModalScreen[None]):
    """The keys and the workflow, in Vietnamese; Esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Đóng")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Label("Trợ giúp — studio, bàn biên tập bản tin", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(HELP_TEXT, markup=True)
            yield Label("Esc để đóng", classes="muted")
