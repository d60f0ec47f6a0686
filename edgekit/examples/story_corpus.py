"""The `story` example's corpus: short children's stories generated from a grammar.

A story has a beginning (who, where, what they love), a problem (something lost, stuck, broken,
a storm, a strange noise, a quarrel), help from a friend with some dialogue, a resolution and an
ending, about 100-130 words. Every sentence is a template from the tables below with its slots
filled (names, animals, places, objects, feelings), so the corpus is deterministic by seed and
every word it can use is listed here (`lexicon`). Nothing is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from edgekit.examples._common import rng

MIN_WORDS, MAX_WORDS = 100, 130

GIRLS = ("Lily", "Mia", "Sara", "Anna", "Lucy", "Emma", "Zoe", "Ruby", "Ella", "Rosa", "Nina", "Amy")
BOYS = ("Tom", "Ben", "Max", "Sam", "Leo", "Jack", "Tim", "Finn", "Dan", "Noah", "Jake", "Omar")
KINDS = ("little girl", "little boy", "bunny", "puppy", "kitten", "bear", "fox", "duck", "mouse", "frog",
         "bird", "squirrel")
ADJECTIVES = ("kind", "brave", "shy", "curious", "happy", "clever", "funny", "gentle", "small", "busy")
PLACES = ("the forest", "the park", "the garden", "a small village", "the town", "the jungle", "the woods",
          "a big city", "the meadow", "the valley", "a little house", "the zoo")
OBJECTS = ("red ball", "blue kite", "teddy bear", "little boat", "yellow hat", "shiny stone", "toy car",
           "green bike", "big drum", "soft blanket", "picture book", "wooden train")
HIDING = ("under a big tree", "behind a rock", "in the tall grass", "under the bed", "next to the pond",
          "inside an old box", "under a pile of leaves", "behind the door", "near the fence")
FOODS = ("cake", "cookies", "apples", "soup", "bread", "pie", "honey", "berries")
WEATHER = ("sunny", "rainy", "windy", "cold", "warm", "bright")
GAMES = ("tag", "hide and seek", "catch", "ball", "with blocks", "in the sand")

OPENINGS = (
    "Once upon a time, there was a {adj} {kind} named {name}.",
    "Once upon a time, in {place}, there lived a {adj} {kind} called {name}.",
    "One {weather} day, a {adj} {kind} named {name} went to {place}.",
    "There once was a {kind} named {name} who was very {adj}.",
    "Long ago, in {place}, lived a {adj} {kind}. {Her} name was {name}.",
)
SETTING = (
    "{Name} lived in {place} with {her} mom and dad.",
    "Every morning, {name} liked to play {game} with {her} friends.",
    "{Name} had a {obj}. It was {her} favorite toy in the whole world.",
    "{Name} loved to eat {food} and to sing happy songs.",
    "The sun was shining and the birds were singing.",
    "{Name} had a good friend, a {fkind} named {friend}.",
)
PROBLEMS = {
    "lost": (
        "One day, {name} went to {place} with {her} {obj}.",
        "{She} played all day, but when it was time to go home, the {obj} was gone!",
        "{Name} felt very {sad}. {She} looked everywhere, but {she} could not find it.",
        '"Where is my {obj}?" {name} cried.',
    ),
    "stuck": (
        "One {weather} day, {name} was playing with {her} {obj} near a tall tree.",
        "Suddenly, the wind took the {obj} up into the tree. It was stuck!",
        "{Name} tried to jump, but {she} was too small. {She} felt {sad}.",
        '"Oh no, I cannot reach it," said {name}.',
    ),
    "broken": (
        "One day, {name} was running with {her} {obj} and {she} fell down.",
        "The {obj} broke into two pieces.",
        "{Name} sat on the ground and began to cry. {She} felt so {sad}.",
        '"My {obj} is broken," {she} said. "Now I cannot play."',
    ),
    "storm": (
        "One day, {name} wanted to go to {place} to play {game}.",
        "But then dark clouds came and it began to rain very hard.",
        "{Name} looked out of the window. {She} felt {sad}.",
        '"Now I have to stay inside all day," {she} said.',
    ),
    "noise": (
        "One night, {name} heard a strange noise outside.",
        "Bump, bump, bump! The noise came again and again.",
        "{Name} was very {scared}. {She} hid under {her} {blanket}.",
        '"What is that?" {she} asked in a small voice.',
    ),
    "share": (
        "One day, {name} was playing with {her} new {obj} in {place}.",
        "A little {fkind} named {friend} came and looked at the {obj}.",
        '"Can I play too?" asked {friend}.',
        '"No, it is mine," said {name}, and {friend} walked away feeling {sad}.',
    ),
}
HELP = {
    "lost": (
        "Then {friend} the {fkind} came by. \"Do not worry, {name}. I will help you,\" said {friend}.",
        "They looked in {place} and they looked {hiding}.",
        "At last, {friend} saw something {color} {hiding}. It was the {obj}!",
    ),
    "stuck": (
        "Just then, {friend} the {fkind} walked by. \"I can help you,\" said {friend}.",
        "{Friend} climbed up the tree, very slowly and very carefully.",
        "{Friend} took the {obj} and brought it down to {name}.",
    ),
    "broken": (
        "{Her} friend {friend} the {fkind} saw {him} and came to help.",
        '"We can fix it together," said {friend}. "Let us use some glue."',
        "They worked and worked, and soon the {obj} was as good as new.",
    ),
    "storm": (
        "Then {friend} the {fkind} came to visit. \"Let us play inside,\" said {friend}.",
        "They built a big house out of pillows and they ate warm {food}.",
        "They told funny stories and laughed and laughed.",
    ),
    "noise": (
        "{Name} called {her} friend {friend}. \"Let us look together,\" said {friend}.",
        "They opened the door very slowly and looked outside.",
        "It was only a little cat playing with a ball! The cat said, \"Meow!\"",
    ),
    "share": (
        "{Name} played alone, but it was not fun. {She} thought about {friend}.",
        "{She} ran after {friend}. \"I am sorry. Do you want to play with me?\" asked {name}.",
        "{Friend} smiled and said, \"Yes, please!\" They played with the {obj} together.",
    ),
}
ENDINGS = {
    "lost": ('"Thank you, {friend}!" said {name}. {She} was so {glad}.',
             "From that day on, {name} always kept {her} {obj} close."),
    "stuck": ('"Thank you!" said {name}, and {she} gave {friend} a big hug.',
              "{Name} learned that good friends always help each other."),
    "broken": ("{Name} was {glad} again. {She} hugged {friend} and said, \"You are the best friend!\"",
               "After that, {name} was always careful with {her} {obj}."),
    "storm": ("When the rain stopped, they saw a big rainbow in the sky.",
              '"This was the best day," said {name}, and {she} felt very {glad}.'),
    "noise": ("{Name} laughed. {She} was not {scared} anymore.",
              "{Name} gave the cat some milk, and the cat slept by the door all night."),
    "share": ("{Name} felt warm and {glad} inside.",
              "{Name} learned that sharing makes playing more fun."),
}
# Optional sentences that lengthen a story towards MIN_WORDS: the setting and a detail after the
# opening, a detail after the problem, before the end.
AFTER_OPENING = (
    "{She} had big eyes and a little nose.",
    "{She} liked to run, jump and play all day long.",
    "{Her} best friend was a {fkind} named {friend}.",
    "Every day, {she} went for a walk to see the flowers.",
)
AFTER_PROBLEM = (
    "{Name} did not know what to do.",
    "{She} sat down and thought for a long time.",
    "A big tear rolled down {her} face.",
)
BEFORE_END = (
    "They were very happy.",
    "Then they went home and had some {food}.",
    "The sun came out and everything was good again.",
    "Mom gave them some {food} and a big smile.",
)
SAD = ("sad", "upset", "unhappy", "worried")
SCARED = ("scared", "afraid", "nervous")
GLAD = ("happy", "glad", "proud", "thankful")
COLORS = ("red", "blue", "yellow", "green", "shiny", "soft")
BLANKETS = ("blanket", "bed", "pillow")


def _pick(g: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(g.integers(len(options)))]


def _slots(g: np.random.Generator) -> dict[str, str]:
    """The names, words and pronouns one story fills its templates with."""
    girl = bool(g.random() < 0.5)
    name = _pick(g, GIRLS if girl else BOYS)
    friend = _pick(g, tuple(n for n in (BOYS if girl else GIRLS) if n != name))
    kind = _pick(g, KINDS)
    if kind.endswith(("girl", "boy")):
        kind = "little girl" if girl else "little boy"
    slots = {
        "name": name, "friend": friend, "kind": kind, "fkind": _pick(g, KINDS[2:]),
        "adj": _pick(g, ADJECTIVES), "place": _pick(g, PLACES), "obj": _pick(g, OBJECTS),
        "hiding": _pick(g, HIDING), "food": _pick(g, FOODS), "weather": _pick(g, WEATHER),
        "game": _pick(g, GAMES), "sad": _pick(g, SAD), "scared": _pick(g, SCARED), "glad": _pick(g, GLAD),
        "color": _pick(g, COLORS), "blanket": _pick(g, BLANKETS),
        "she": "she" if girl else "he", "her": "her" if girl else "his", "him": "her" if girl else "him",
    }
    # A sentence may start with a slot: its capitalised form is the slot's name capitalised.
    return {**slots, **{k.capitalize(): v[0].upper() + v[1:] for k, v in slots.items()}}


def story(g: np.random.Generator) -> str:
    """One story: opening, problem, help and ending, lengthened with optional details (the
    setting first; never past MAX_WORDS) until it has at least MIN_WORDS words."""
    slots = _slots(g)
    plot = _pick(g, tuple(PROBLEMS))
    parts = [[_pick(g, OPENINGS)], list(PROBLEMS[plot]), list(HELP[plot]), list(ENDINGS[plot])]
    parts = [[s.format(**slots) for s in part] for part in parts]
    extras = [(0, _pick(g, SETTING)), (0, _pick(g, AFTER_OPENING)), (1, _pick(g, AFTER_PROBLEM)),
              (2, _pick(g, BEFORE_END))]
    for k in (0, *(1 + g.permutation(len(extras) - 1))):
        words = sum(len(s.split()) for part in parts for s in part)
        if words >= MIN_WORDS:
            break
        where, sentence = extras[int(k)][0], extras[int(k)][1].format(**slots)
        if words + len(sentence.split()) <= MAX_WORDS:
            parts[where].append(sentence)
    return " ".join(s for part in parts for s in part)


def make_stories(seed: int, n: int, stream: int = 0) -> list[str]:
    """`n` stories, the same for the same (seed, stream)."""
    g = rng(seed, 200 + stream)
    return [story(g) for _ in range(n)]


def _templates() -> Iterator[str]:
    yield from OPENINGS + SETTING + AFTER_OPENING + AFTER_PROBLEM + BEFORE_END
    for table in (PROBLEMS, HELP, ENDINGS):
        for sentences in table.values():
            yield from sentences


_WORD = re.compile(r"[A-Za-z]+")


def lexicon() -> set[str]:
    """Every word (lower case) a story can contain: the templates' and the tables' words."""
    tables = (GIRLS, BOYS, KINDS, ADJECTIVES, PLACES, OBJECTS, HIDING, FOODS, WEATHER, GAMES, SAD, SCARED,
              GLAD, COLORS, BLANKETS, ("she", "he", "her", "his", "him"))
    text = " ".join(re.sub(r"\{\w+\}", " ", t) for t in _templates()) + " " + " ".join(w for t in tables for w in t)
    return {w.lower() for w in _WORD.findall(text)}


__all__ = ["MAX_WORDS", "MIN_WORDS", "lexicon", "make_stories", "story"]
