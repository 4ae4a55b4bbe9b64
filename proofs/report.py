"""The table every proof suite prints: notes, figures, and each promise kept or BROKEN.

One format for all suites so that CI, the README's Guarantees section and a reader compare them
at a glance; a suite that checked no promise (it stopped early) counts as broken.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["TABLE_END", "Promise", "Result"]

TABLE_END = "-- end of table --"


@dataclass(frozen=True, slots=True)
class Promise:
    name: str
    kept: bool
    detail: str = ""


@dataclass
class Result:
    suite: str
    mode: str
    notes: list[str] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)
    promises: list[Promise] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def figure(self, name: str, value: object) -> None:
        if isinstance(value, float):
            text = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        else:
            text = str(value)
        self.figures.append((name, text))

    def promise(self, name: str, kept: bool, detail: str = "") -> bool:
        self.promises.append(Promise(name, bool(kept), detail))
        return bool(kept)

    @property
    def broken(self) -> list[Promise]:
        return [p for p in self.promises if not p.kept]

    def exit_code(self) -> int:
        return 1 if self.broken or not self.promises else 0

    def print(self, out: TextIO = sys.stdout) -> None:
        width = max([len(name) for name, _ in self.figures] + [20])
        title = f"proof suite: {self.suite} --{self.mode}"
        print(title, file=out)
        print("=" * len(title), file=out)
        for text in self.notes:
            print(f"note: {text}", file=out)
        print(f"{'figure':<{width}}  value", file=out)
        print(f"{'-' * width}  {'-' * 12}", file=out)
        for name, value in self.figures:
            print(f"{name:<{width}}  {value}", file=out)
        print("promises:", file=out)
        for p in self.promises:
            mark = "kept  " if p.kept else "BROKEN"
            detail = f" ({p.detail})" if p.detail and not p.kept else ""
            print(f"  [{mark}] {p.name}{detail}", file=out)
        if not self.promises:
            print("  [BROKEN] the suite checked no promise (it stopped early)", file=out)
        print(TABLE_END, file=out)
        for p in self.broken:
            print(f"BROKEN PROMISE ({self.suite}): {p.name}: {p.detail}", file=out)
        out.flush()
