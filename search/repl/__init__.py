"""The interactive REPL (`search repl`).

Modules: `session` (the prompt_toolkit session, the only one that knows the
terminal), `controller` (runs a line, returns plain outcome objects),
`render` and `layout` (outcomes to text fitted to the terminal), `live`
(results while typing), `keys` (key bindings), `completion`, `lexer`,
`coverage` (related coverage of an article), `saved` (saved searches),
`export`. Nothing is imported here, so importing the package is free.
"""
