"""mailthreads: thread reconstruction (Zawinski / RFC 5256 REFERENCES) for mail archives.

Public API: `Item` in, `thread()` out as `Thread`s of `Node`s; `MODES`; header parsing in
`mailthreads.ids`; base subjects in `mailthreads.subject`. See threading/README.md.
"""

from .engine import MODES, thread
from .records import Item, Node, Thread
from .subject import DEFAULT_GENERIC_SUBJECTS

__all__ = ["Item", "Node", "Thread", "thread", "MODES", "DEFAULT_GENERIC_SUBJECTS"]
