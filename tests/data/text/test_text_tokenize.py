"""The tweet and whitespace tokenizers, case by case (exact token lists)."""

from __future__ import annotations

import pytest

from trainlab.data.text.tokenize import TOKENIZERS, Tokenizer, TweetTokenizer
from trainlab.errors import TrainlabError

TWEET_CASES = [
    # lowercasing, mentions, hashtags
    ("@United thanks!", ["@united", "thanks", "!"]),
    ("@VirginAmerica What @dhepburn said.", ["@virginamerica", "what", "@dhepburn", "said", "."]),
    ("#Fail #neverAgain #1", ["#fail", "#neveragain", "#1"]),
    # HTML entities decoded
    ("delays &amp; more &lt;3 &gt;:(", ["delays", "&", "more", "<3", ">", ":("]),
    # URLs, trailing punctuation left out
    ("see http://t.co/AbC123 now", ["see", "<url>", "now"]),
    ("link: https://t.co/x9.", ["link", ":", "<url>", "."]),
    ("www.united.com/bags?", ["<url>", "?"]),
    # apostrophes: straight and curly, inside words kept
    ("I can't believe you've lost it", ["i", "can't", "believe", "you've", "lost", "it"]),
    ("can’t won’t", ["can't", "won't"]),
    ("guests' faces", ["guests", "'", "faces"]),
    # numbers
    ("at 10:30 for $200", ["at", "10:30", "for", "$200"]),
    ("3.5 hours, 50% off, 1,000 miles", ["3.5", "hours", ",", "50%", "off", ",", "1,000", "miles"]),
    ("flight 1234 on 2/24 the 3rd time", ["flight", "1234", "on", "2/24", "the", "3rd", "time"]),
    # punctuation runs and single marks
    ("no!!! why?! well...", ["no", "!!!", "why", "?!", "well", "..."]),
    ("wait—what (late) ok?", ["wait", "—", "what", "(", "late", ")", "ok", "?"]),
    ('"entertainment"', ['"', "entertainment", '"']),
    ("re:post", ["re", ":", "post"]),
    # emoticons
    (":) :-( ;) :D :P :/ <3", [":)", ":-(", ";)", ":d", ":p", ":/", "<3"]),
    # emoji: one token each, modifiers and joiners kept whole, variation selectors dropped
    ("ok😂😂", ["ok", "😂", "😂"]),
    ("👍🏽 great", ["👍🏽", "great"]),
    ("🇺🇸🇬🇧", ["🇺🇸", "🇬🇧"]),
    ("👨\u200d👩\u200d👧 family", ["👨\u200d👩\u200d👧", "family"]),
    ("❤️ ❤ ✈️", ["❤", "❤", "✈"]),
    ("1️⃣ step", ["1\u20e3", "step"]),
    # whitespace of every kind separates; nothing left is no tokens
    ("line one\nline\ttwo  \r\n", ["line", "one", "line", "two"]),
    ("Café", ["café"]),
    ("", []),
    ("   \n ", []),
    ("\ufe0f\u200d\u200b", []),
    (
        "@VirginAmerica it's really aggressive to blast obnoxious \"entertainment\" in your guests' faces &amp; "
        "they have little recourse",
        ["@virginamerica", "it's", "really", "aggressive", "to", "blast", "obnoxious", '"', "entertainment", '"', "in",
         "your", "guests", "'", "faces", "&", "they", "have", "little", "recourse"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), TWEET_CASES)
def test_tweet_tokenizer(text: str, expected: list[str]) -> None:
    assert TOKENIZERS.build("tweet").tokenize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Hello, World!\nBye", ["hello,", "world!", "bye"]), ("  ", []), ("A\tb", ["a", "b"])],
)
def test_whitespace_tokenizer(text: str, expected: list[str]) -> None:
    assert TOKENIZERS.build("whitespace").tokenize(text) == expected


def test_registered_tokenizers_build_vocabularies_from_data() -> None:
    for name in ("tweet", "whitespace"):
        tokenizer = TOKENIZERS.build(name)
        assert isinstance(tokenizer, Tokenizer) and tokenizer.name == name
        assert tokenizer.fixed_vocabulary() is None


def test_default_encode_looks_tokens_up() -> None:
    index = {"<pad>": 0, "<unk>": 1, "late": 2, "!!!": 3}
    assert TweetTokenizer().encode("Late again!!!", index, 1) == [2, 1, 3]


def test_unknown_tokenizer_lists_the_known_ones() -> None:
    with pytest.raises(TrainlabError, match=r"unknown tokenizer 'bert'; known: .*tweet, whitespace"):
        TOKENIZERS.build("bert")
