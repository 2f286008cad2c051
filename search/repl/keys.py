"""prompt_toolkit pieces of the REPL session: the live list under the
prompt, the key bindings, and Tab completion that inserts a unique match.

Kept apart from `session` so the session reads as the loop it is. The
`ReplUI` protocol is what these need from the session.
"""

from __future__ import annotations

from typing import Any, Protocol

from .commands import COMMANDS, resolve_command


class ReplUI(Protocol):
    """What the key bindings and the live area need from the session."""

    selected: int | None

    def live_fragments(self) -> Any: ...
    def live_height(self) -> int: ...
    def live_count(self) -> int: ...
    def move_selection(self, step: int) -> None: ...
    def pick_selected(self, buffer: Any) -> None: ...
    def page_key(self, command: str) -> None: ...


def install_live_area(session: Any, ui: ReplUI) -> bool:
    """Put the live list right under the input line of `session` (a
    PromptSession): inside the container that holds the input window, so
    the completion menu floats over it. False when the session's layout
    is not the expected shape (the REPL then runs without a live list)."""
    from prompt_toolkit.filters import Condition, is_done, to_filter
    from prompt_toolkit.layout import ConditionalContainer, FloatContainer, HSplit, Window
    from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
    from prompt_toolkit.layout.dimension import Dimension
    from prompt_toolkit.layout.layout import walk

    def is_input(node: Any) -> bool:
        return (isinstance(node, Window) and isinstance(node.content, BufferControl)
                and node.content.buffer is session.default_buffer)

    target = window = None
    for node in session.layout.walk():
        if isinstance(node, FloatContainer) and isinstance(node.content, HSplit):
            found = [w for w in walk(node.content) if is_input(w)]
            if found:
                target, window = node.content, found[0]
    if target is None or window is None:
        return False
    # the input window takes the rows it needs, not the rest of the screen,
    # so the list sits right under it (the toolbar follows the list)
    window.dont_extend_height = to_filter(True)
    area = Window(FormattedTextControl(ui.live_fragments), height=lambda: Dimension.exact(ui.live_height()),
                  dont_extend_height=True, wrap_lines=False)
    shown = ~is_done & Condition(lambda: ui.live_height() > 0)
    target.children.append(ConditionalContainer(area, filter=shown))
    return True


def complete_now(buffer: Any, completer: Any) -> None:
    """Tab: a unique completion is inserted at once (a command name with a
    space after it when it takes an argument); several complete to their
    common part and open the menu; with the menu open, the next one."""
    from prompt_toolkit.buffer import CompletionState
    from prompt_toolkit.completion import CompleteEvent, get_common_complete_suffix

    state = buffer.complete_state
    if state is not None and state.original_document.text == buffer.text and state.completions:
        completions = list(state.completions)
        if len(completions) > 1:
            buffer.complete_next()
            return
    else:
        event = CompleteEvent(completion_requested=True)
        completions = list(completer.get_completions(buffer.document, event))
    if not completions:
        return
    if len(completions) == 1:
        buffer.apply_completion(completions[0])
        before = buffer.document.text_before_cursor.lstrip()
        if before.startswith(":") and " " not in before and not buffer.document.text_after_cursor:
            command = resolve_command(before[1:])
            if command and any(c.name == command and c.args for c in COMMANDS):
                buffer.insert_text(" ")
        return
    common = get_common_complete_suffix(buffer.document, completions)
    if common:
        buffer.insert_text(common)
    else:
        # the menu lists them (none picked yet); the next Tab picks one
        buffer.complete_state = CompletionState(original_document=buffer.document, completions=completions)
        buffer.on_completions_changed.fire()


def key_bindings(ui: ReplUI, completer: Any) -> Any:
    """The REPL's own keys, over prompt_toolkit's (Emacs) defaults."""
    from prompt_toolkit.application.current import get_app
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.key_binding import KeyBindings

    kb = KeyBindings()
    menu_open = Condition(lambda: get_app().current_buffer.complete_state is not None)
    in_input = Condition(lambda: get_app().layout.current_buffer is not None
                         and get_app().layout.current_buffer.name == "DEFAULT_BUFFER")
    has_hits = Condition(lambda: ui.live_count() > 0) & ~menu_open & in_input
    picking = Condition(lambda: ui.selected is not None) & ~menu_open & in_input

    @kb.add("down", filter=has_hits)
    @kb.add("c-n", filter=has_hits)
    def _down(event: Any) -> None:
        ui.move_selection(+1)

    @kb.add("up", filter=picking)
    @kb.add("c-p", filter=picking)
    def _up(event: Any) -> None:
        ui.move_selection(-1)

    @kb.add("enter", filter=picking)
    def _pick(event: Any) -> None:
        ui.pick_selected(event.current_buffer)

    @kb.add("pagedown", filter=in_input)
    @kb.add("escape", "n", filter=in_input)
    def _next(event: Any) -> None:
        ui.page_key("next")

    @kb.add("pageup", filter=in_input)
    @kb.add("escape", "p", filter=in_input)
    def _prev(event: Any) -> None:
        ui.page_key("prev")

    @kb.add("tab", filter=in_input)
    def _tab(event: Any) -> None:
        complete_now(event.current_buffer, completer)

    return kb
