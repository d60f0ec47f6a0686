"""`edgekit complete`: a text model completes a sentence on the board (edgekit.hil.complete)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

import click

from edgekit.cli.farm import farm_options, farm_target, waiting
from edgekit.cli.support import boards_dirs_option, json_option, print_json
from edgekit.console import err, out, step


def example_prompt(example: str | None) -> str:
    """The prompt of the example a project was made from (UsageError when there is none)."""
    from edgekit.errors import UsageError
    from edgekit.examples import EXAMPLES

    found = EXAMPLES[example].prompt if example in EXAMPLES else None
    if found is None:
        raise UsageError("which prompt? the project was not made from a text example", hint='pass --prompt "..."')
    return found


@click.command()
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--prompt", help='The start of a sentence, e.g. "turn on the" [default: the example\'s, for a project '
                               'made from one].')
@click.option("--words", type=click.IntRange(min=1, max=1024), default=8, show_default=True,
              help="Stop after this many words, tokens for a subword vocabulary (or at the end of the "
                   "sentence, or when a decode step's context is full).")
@click.option("--temperature", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="0: the most likely word each time; above 0: drawn from the softmax of the scores / this.")
@click.option("--top-k", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --temperature: draw among the k most likely only (0: all).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="With --temperature: the draw's seed (the same seed, the same words).")
@click.option("--board", "board_id", help="Board id [default: the project's].")
@click.option("--port", help="Serial port or URL [default: virtual board started here, else found by USB id].")
@farm_options
@boards_dirs_option
@json_option
def complete(project_dir: Path, prompt: str | None, words: int, temperature: float, top_k: int, seed: int,
             board_id: str | None, port: str | None,
             place: str | None, farm: str | None, tags: tuple[str, ...], farm_timeout: float, no_flash: bool,
             boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Complete a sentence on the board with a text model, one on-device inference per word."""
    from edgekit.hil.complete import CompletedWord, Sampling
    from edgekit.hil.complete import complete as run_complete
    from edgekit.project.manifest import open_project

    project = open_project(project_dir, boards_dirs=boards_dirs, board_id=board_id)
    prompt = prompt if prompt is not None else example_prompt(project.origin.example)
    target = farm_target(place, farm, tags, farm_timeout, port)
    with ExitStack() as stack:
        if target is not None:
            from edgekit.farm.flash import place_port

            port = stack.enter_context(place_port(target, project, flash=not no_flash, on_wait=waiting))
        unit = "instructions" if project.board.virtual else "cycles"

        def on_word(w: CompletedWord) -> None:  # each word as the board sends it
            out.print(f"  {w.word:<16} {w.cycles:>12,} {unit}  ({w.microseconds:,.1f} µs)")

        with step(f"completing on {project.board.id}"):
            result = run_complete(project, prompt, words=words, port=port,
                                  on_word=None if as_json else on_word,
                                  sampling=Sampling(temperature, top_k, seed))
    if as_json:
        print_json(asdict(result) | {"count_unit": result.count_unit,
                                     "words_per_second": result.words_per_second})
        return
    if result.unknown:
        err.print(f"note: not in the vocabulary, sent as <unk>: {', '.join(result.unknown)}")
    out.print(f"[bold]{result.text}[/]")
    n, rate, piece = len(result.words), result.words_per_second, result.piece
    speed = "" if rate is None else (f", {rate:,.1f} {piece}s/s" + (
        f" if each instruction took a cycle at {result.cycles_hz / 1e6:,.0f} MHz" if result.virtual else ""))
    out.print(f"stopped: {result.stopped}; {n} {piece}{'' if n == 1 else 's'}, one INFER each on {result.board} "
              f"({result.runtime}{speed})" + (" (virtual board: counts are instructions, not real-board time)"
                                              if result.virtual else ""))
