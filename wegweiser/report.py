"""What `wegweiser harvest` shows: a progress bar on a terminal, then a table per source."""
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

STATUS_STYLE = {"ok": "green", "unchanged": "cyan", "failed": "bold red"}


@contextmanager
def progress(total: int):
    """Yield a callback to call per finished source; draws a bar only when stderr is a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda outcome: None
        return
    columns = (TextColumn("harvesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("harvest", total=total)
        yield lambda outcome: bar.advance(task)


def summary(outcomes) -> None:
    """Per source: status, new, updated, withdrawn, rejected, and what went wrong."""
    table = Table(title="Harvest", title_justify="left")
    for name, justify in (("source", "left"), ("status", "left"), ("new", "right"), ("updated", "right"),
                          ("withdrawn", "right"), ("rejected", "right"), ("message", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    for o in sorted(outcomes, key=lambda o: o.source_id):
        c = o.counts
        # Messages quote feeds and URLs, which may hold anything that looks like markup.
        table.add_row(escape(o.source_id), f"[{STATUS_STYLE[o.status]}]{o.status}[/]", str(c.new), str(c.updated),
                      str(c.withdrawn), str(c.rejected), escape(o.message))
    failed = sum(o.status == "failed" for o in outcomes)
    console = Console(width=160) if not Console().is_terminal else Console()
    console.print(table)
    console.print(f"{len(outcomes)} sources, {failed} failed")
