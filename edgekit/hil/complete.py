"""`edgekit complete`: finish a sentence on the board with a text model, word by word.

The prompt is tokenized with the vocabulary the project's origin names (edgekit/model/vocab.py);
each step sends the last WINDOW token ids (int32) in one INFER, takes the most likely word (never
the pad or unknown id; or, with a temperature, one drawn from the softmax of the dequantized
scores over the top k, seeded: the same seed, the same words), appends it, and stops at the
end-of-sentence id or after the words asked for. A next-word model (one score per word) reads
its window left-padded with 0; a causal language model (a transformer's scores for every
position: output (WINDOW, words)) reads it right-padded, and the word is the one its scores at
the last id given predict (a causal model's earlier positions never see the padding after
them). Every INFER is an independent sequence (the firmware resets a recurrent model's state
before it), so a step depends only on its window.

A decode step (edgekit.model.decode: one token and its position in, its scores out, the keys
and values of the tokens before kept on the device) goes token by token instead: a soft RESET
empties the cache, each prompt id is one INFER, and each word chosen is the next; a word costs
one token's work, not a window's, until the cache's context is full.

The latency of each step is the device's own count around the invoke: cycles on a real board,
instructions on the virtual board.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.errors import DeviceError, UsageError
from edgekit.hil.board_link import open_session
from edgekit.hil.session import Session
from edgekit.model.decode import decode_context, is_decode_step
from edgekit.model.modelio import ModelIO
from edgekit.model.vocab import EOS, PAD, UNK, Vocabulary, tokenize
from edgekit.project.manifest import Project

DEFAULT_WORDS = 8


@dataclass(frozen=True)
class CompletedWord:
    """One on-device inference: the word it chose and what it cost."""

    word: str
    token_id: int
    cycles: int          # the device's count around the invoke (instructions on the virtual board)
    microseconds: float  # cycles / the counter's frequency


@dataclass
class Completion:
    """A prompt and the words the board appended to it."""

    prompt: str
    prompt_ids: tuple[int, ...]
    unknown: tuple[str, ...]          # prompt words not in the vocabulary (sent as the unknown id)
    words: list[CompletedWord] = field(default_factory=list)
    stopped: str = ""                 # "end of sentence" | "word limit" | "context full"
    prompt_cycles: int = 0            # a decode step's INFERs reading the prompt before the first word
    text: str = ""                    # the prompt and the completion, as one line
    board: str = ""
    virtual: bool = False
    port: str = ""
    cycles_hz: int = 0
    runtime: str = ""
    piece: str = "word"               # what one INFER appends: "word", or "token" (a subword vocabulary's)

    @property
    def words_per_second(self) -> float | None:
        """Words the board makes per second of its own counts (None without a counter rate)."""
        seconds = sum(w.microseconds for w in self.words) / 1e6
        return len(self.words) / seconds if seconds > 0 else None

    @property
    def count_unit(self) -> str:
        """What `cycles` counts on this board."""
        return "instructions" if self.virtual else "cycles"


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen from the scores: greedy (temperature 0), or drawn from the
    softmax of scores / temperature over the `top_k` best (0: all), seeded."""

    temperature: float = 0.0
    top_k: int = 0
    seed: int = 0

    def chooser(self, scale: float) -> Callable[[np.ndarray], int]:
        """A function of one step's raw int scores (pad and unknown already excluded) to the token
        chosen; `scale` is the output's, so the temperature applies to real logits."""
        if self.temperature <= 0:
            return lambda q: int(np.argmax(q))   # the scale is positive: the raw argmax
        rng = np.random.default_rng(self.seed)

        def draw(q: np.ndarray) -> int:
            allowed = q > np.iinfo(np.int64).min
            z = np.where(allowed, q.astype(np.float64), -np.inf) * (scale / self.temperature)
            if 0 < self.top_k < int(allowed.sum()):
                z[z < np.sort(z)[-self.top_k]] = -np.inf
            p = np.exp(z - z.max())
            return int(rng.choice(len(p), p=p / p.sum()))
        return draw


@dataclass(frozen=True)
class TextModel:
    """What `complete` needs to know of a project's model."""

    vocab: Vocabulary
    width: int          # token ids per input; a decode step's context (positions its cache holds)
    causal: bool        # scores for every position (a causal LM), else for the next word only
    stepped: bool = False  # a decode step: one token per INFER, its cache on the device

    def window(self, ids: list[int]) -> tuple[np.ndarray, int]:
        """The model input for the ids so far, and the output row that predicts the next word."""
        row = min(len(ids), self.width) - 1 if self.causal and ids else 0
        return self.vocab.window(ids, self.width, pad_right=self.causal), row


def text_model_window(project: Project) -> TextModel:
    """The project's vocabulary and the model's window; UsageError (exit 2) for a project whose
    model is not a token-id text model."""
    origin, graph, tin = project.origin, project.graph, project.graph.input_tensors[0]
    if not origin.vocabulary:
        raise UsageError(f"{project.root} has no vocabulary: `edgekit complete` needs a text model "
                         f"(its origin records the vocab.json it was trained with)",
                         hint="generate the project from a model trained with `edgekit train text`")
    if is_decode_step(graph):
        vocab, out = Vocabulary.load(Path(origin.vocabulary)), graph.output_tensors[0]
        if out.size != len(vocab):
            raise UsageError(f"the vocabulary {origin.vocabulary} has {len(vocab)} words but the decode "
                             f"step outputs {out.size} scores",
                             hint="generate the project again from the trained model")
        return TextModel(vocab, decode_context(graph), True, stepped=True)
    if tin.dtype != "int32" or len(tin.shape) != 2:
        raise UsageError(f"{project.root}: the model takes {tin.dtype} input of shape {tin.shape}, "
                         "not a window of int32 token ids")
    vocab, width = Vocabulary.load(Path(origin.vocabulary)), int(tin.shape[1])
    out = project.graph.output_tensors[0]
    causal = tuple(out.shape[-2:]) == (width, len(vocab)) and out.size == width * len(vocab)
    if out.size != len(vocab) and not causal:
        raise UsageError(f"the vocabulary {origin.vocabulary} has {len(vocab)} words but the model "
                         f"outputs scores of shape {tuple(out.shape)} (expected {len(vocab)}, or "
                         f"({width}, {len(vocab)}) for a causal language model)",
                         hint="generate the project again from the trained model")
    return TextModel(vocab, width, causal)


def piece_text(vocab: Vocabulary, token: int) -> str:
    """A token as it reads: a word, or a subword piece with its word-start marker as a space."""
    return vocab.word(token).replace("\u2581", " ") if vocab.tokenizer else vocab.word(token)


def infer_step(session: Session, io: ModelIO, token: int, position: int) -> tuple[np.ndarray, int]:
    """One INFER of a decode step: the scores after `token` at `position`, and its count."""
    block = io.pack([np.array([[token]], np.int32), np.array([[position]], np.int32)])[0]
    out, cycles = session.infer_block(block.tobytes())
    return io.unpack(out)[0].reshape(-1), int(cycles)


def _stepper(session: Session, io: ModelIO, ids: list[int], result: Completion) -> tuple[np.ndarray, int]:
    """A decode step reads the prompt from an empty cache: the scores after its last id."""
    if not ids:
        raise UsageError("the prompt has no words")
    session.reset()  # a soft reset re-initializes the model: its cache back to empty
    steps = [infer_step(session, io, token, pos) for pos, token in enumerate(ids)]
    result.prompt_cycles = sum(c for _, c in steps[:-1])
    return steps[-1]


def complete(project: Project, prompt: str, *, words: int = DEFAULT_WORDS, port: str | None = None,
             baud: int | None = None, on_word: Callable[[CompletedWord], None] | None = None,
             sampling: Sampling = Sampling()) -> Completion:
    """Complete `prompt` on the project's board (the virtual board when no port is given and the
    board is virtual), one INFER per word (`on_word` called as each arrives), each chosen as
    `sampling` says; see the module docstring."""
    if words < 1:
        raise UsageError(f"--words must be at least 1, got {words}")
    model = text_model_window(project)
    vocab = model.vocab
    project.check_build()
    encoded = vocab.encode_text(prompt)
    if model.stepped and len(encoded.ids) >= model.width:
        raise UsageError(f"the prompt has {len(encoded.ids)} tokens; the model's context holds {model.width}")
    result = Completion(prompt, encoded.ids, encoded.unknown, board=project.board.id,
                        virtual=project.board.virtual, runtime=project.runtime,
                        piece="token" if vocab.tokenizer else "word")
    ids = list(encoded.ids)
    with ExitStack() as stack:
        session, _ = open_session(stack, project.board, port=port, project=project, baud=baud)
        result.port = session.url
        info = session.connect()
        if info.model_sha256 != project.graph.sha256:
            raise DeviceError(f"the board on {session.url} runs model sha256:{info.model_sha256[:16]}…, "
                              f"this project's model is sha256:{project.graph.sha256[:16]}…",
                              hint="flash this project's firmware (edgekit build + edgekit flash)")
        result.cycles_hz = info.cycles_hz
        io = ModelIO.of(project.graph)   # a decode step's I/O block, for every INFER
        choose = sampling.chooser(project.graph.output_tensors[0].scale)
        next_scores = _stepper(session, io, ids, result) if model.stepped else None
        for _ in range(words):
            if next_scores is not None:
                scores, cycles = next_scores
            else:
                window, row = model.window(ids)
                out, cycles = session.infer(window)
                scores = np.asarray(out, dtype=np.int64).reshape(-1, len(vocab))[row]
            scores = scores.astype(np.int64)
            scores[[PAD, UNK]] = np.iinfo(np.int64).min
            token = choose(scores)
            if token == EOS:
                result.stopped = "end of sentence"
                break
            ids.append(token)
            word = CompletedWord(piece_text(vocab, token), token, int(cycles),
                                 cycles * 1e6 / info.cycles_hz if info.cycles_hz else 0.0)
            result.words.append(word)
            if on_word is not None:
                on_word(word)
            if model.stepped:
                if len(ids) >= model.width:
                    result.stopped = "context full"
                    break
                next_scores = infer_step(session, io, token, len(ids) - 1)
        else:
            result.stopped = "word limit"
    # a word vocabulary's text is its words; a subword one's, its pieces joined as they were
    result.text = (vocab.decode(ids) if vocab.tokenizer
                   else " ".join(tokenize(prompt) + [w.word for w in result.words]))
    return result


__all__ = ["CompletedWord", "Completion", "DEFAULT_WORDS", "Sampling", "TextModel", "complete", "infer_step",
           "text_model_window"]
