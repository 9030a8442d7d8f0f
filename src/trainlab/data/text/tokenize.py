"""Tokenizers: text → token strings (and ids), registered by name in :data:`TOKENIZERS`.

A :class:`TokenSpec` records its tokenizer's name, so ``trainlab predict`` tokenizes new text the way training did.

Two kinds plug in through one interface:

* a tokenizer whose vocabulary is built from the train split (``tweet``, ``whitespace``): ``fixed_vocabulary()`` is
  None, and ``encode`` looks each token up in the built vocabulary;
* a pretrained tokenizer (e.g. a WordPiece one) with its own vocabulary: ``fixed_vocabulary()`` returns that
  vocabulary with its pad and unk ids, and ``encode`` returns the tokenizer's own ids (special tokens included).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping

from trainlab.registry import Registry

URL_TOKEN = "<url>"
FixedVocabulary = tuple[tuple[str, ...], int, int]


class Tokenizer:
    """Base of every tokenizer: subclasses set ``name`` and implement :meth:`tokenize`."""

    name: str = ""

    def tokenize(self, text: str) -> list[str]:
        """The text's tokens, in order; an empty list when it has none (e.g. only whitespace)."""
        raise NotImplementedError

    def fixed_vocabulary(self) -> FixedVocabulary | None:
        """``(vocab, pad_id, unk_id)`` of a pretrained tokenizer's own vocabulary; None when the vocabulary is built
        from the train split."""
        return None

    def encode(self, text: str, index: Mapping[str, int], unk_id: int) -> list[int]:
        """The text's token ids: each token looked up in ``index`` (token → id), unknown ones as ``unk_id``.

        A pretrained tokenizer overrides this with its own encoding (``index`` is then its fixed vocabulary's).
        """
        return [index.get(token, unk_id) for token in self.tokenize(text)]


TOKENIZERS: Registry[Tokenizer] = Registry[Tokenizer]("tokenizer")


def _emoji_pattern() -> str:
    """One emoji: a flag (two regional indicators), a keycap, or a pictograph with its modifiers (variation selector,
    skin tone, tag characters of subdivision flags) joined to others by zero-width joiners (family, profession)."""
    base = (
        "\U0001f000-\U0001f1e5\U0001f200-\U0001faff"  # pictographs, emoticons, transport, symbols (not flag letters)
        "\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u2190-\u21ff\u25a0-\u25ff"  # misc symbols, dingbats, arrows, shapes
        "\u2122\u2139\u3030\u303d\u3297\u3299\u00a9\u00ae\u203c\u2049"
    )
    modifier = "\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\u20e3\U000e0020-\U000e007f"
    one = f"[{base}][{modifier}]*"
    return rf"[\U0001f1e6-\U0001f1ff]{{2}}|[0-9#*]\ufe0f?\u20e3|{one}(?:\u200d{one})*"


# Order matters: at each position the first alternative that matches wins.
_TWEET_TOKEN = re.compile(
    "|".join(
        (
            r"(?P<url>(?:https?://|www\.)\S*[^\s.,!?;:)\]'\"])",  # a URL, trailing punctuation left out
            r"@\w+",  # @mention
            r"#\w+",  # #hashtag
            r"<3+|[:;=]['-]?(?:\)+|\(+|[dpo/|](?![\w/]))",  # emoticons :) :-( ;) :'( :d :p :/ <3
            _emoji_pattern(),
            r"[$£€]?\d+(?:[.,:/]\d+)*(?:%|\w+)?",  # 10:30 $200 3.5 1,000 2/24 50% 2pm 1st
            r"\w+(?:'\w+)*",  # words, apostrophes inside kept: can't, you've, o'hare
            r"[!?]{2,}|(?P<run>[^\w\s])(?P=run)+",  # !!! ?! ... --
            r"[^\w\s\ufe0e\ufe0f\u200b-\u200f\u2060\ufeff]",  # any other symbol; stray invisible marks are dropped
        )
    )
)
# Curly apostrophes are made straight (can’t = can't); variation selectors are dropped (❤️ = ❤: one emoji, one token).
_NORMALIZE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\ufe0e": None, "\ufe0f": None})


def normalize_tweet(text: str) -> str:
    """HTML entities decoded (``&amp;`` → ``&``), NFC, lowercased, curly apostrophes made straight, variation
    selectors dropped."""
    return unicodedata.normalize("NFC", html.unescape(text)).lower().translate(_NORMALIZE)


@TOKENIZERS.register("tweet", description="tweets: @mentions, #hashtags, <url>, emoji, emoticons, punctuation runs")
class TweetTokenizer(Tokenizer):
    """Lowercased tweet tokens: ``@united``, ``#fail``, ``<url>``, one token per emoji (skin tones, flags and
    zero-width-joined sequences kept whole), emoticons (``:)``, ``<3``), ``can't``, ``10:30``, ``$200``, ``!!!``,
    ``?!``, ``...``; any other punctuation mark is a token of its own, and whitespace (newlines too) separates."""

    name = "tweet"

    def tokenize(self, text: str) -> list[str]:
        return [URL_TOKEN if match.group("url") else match.group()
                for match in _TWEET_TOKEN.finditer(normalize_tweet(text))]


@TOKENIZERS.register("whitespace", description="lowercased text split on whitespace")
class WhitespaceTokenizer(Tokenizer):
    """``text.lower().split()``: punctuation stays attached to its word."""

    name = "whitespace"

    def tokenize(self, text: str) -> list[str]:
        return text.lower().split()
