"""Sentence splitting: abbreviations, initials, numbers, quotes and Cyrillic, table-driven."""

from __future__ import annotations

import time

import pytest

from bot.sentences import split_sentences

ENGLISH: list[tuple[str, list[str]]] = [
    (
        "Troops crossed the border on Oct. 27 at dawn. Shelling followed.",
        ["Troops crossed the border on Oct. 27 at dawn.", "Shelling followed."],
    ),
    (
        "The U.S. Embassy in Kyiv issued a warning. Staff were told to stay inside.",
        ["The U.S. Embassy in Kyiv issued a warning.", "Staff were told to stay inside."],
    ),
    (
        "Aid will come from the U.S. The package is worth $2 billion.",
        ["Aid will come from the U.S.", "The package is worth $2 billion."],
    ),
    (
        "Gen. Oleksandr Syrskyi toured the front. He met commanders.",
        ["Gen. Oleksandr Syrskyi toured the front.", "He met commanders."],
    ),
    (
        "Talks were held in St. Petersburg on Friday. No deal was reached.",
        ["Talks were held in St. Petersburg on Friday.", "No deal was reached."],
    ),
    (
        "Rioters stormed the Capitol on Jan. 6 in 2021. Hundreds were charged.",
        ["Rioters stormed the Capitol on Jan. 6 in 2021.", "Hundreds were charged."],
    ),
    (
        "He spoke with J. Sullivan by phone. The call lasted an hour.",
        ["He spoke with J. Sullivan by phone.", "The call lasted an hour."],
    ),
    (
        "Brigade No. 2 was withdrawn to rest. A fresh unit took over.",
        ["Brigade No. 2 was withdrawn to rest.", "A fresh unit took over."],
    ),
    (
        "Mr. Zelensky and Dr. Lee met in Geneva. They spoke for an hour.",
        ["Mr. Zelensky and Dr. Lee met in Geneva.", "They spoke for an hour."],
    ),
    (
        "Sirens sounded at 4 a.m. The strike hit a power plant.",
        ["Sirens sounded at 4 a.m.", "The strike hit a power plant."],
    ),
    (
        "The drones arrived at 4 a.m. Kyiv time and were shot down.",
        ["The drones arrived at 4 a.m. Kyiv time and were shot down."],
    ),
    (
        "Inflation rose to 3.5 percent in May. Prices of fuel led the rise.",
        ["Inflation rose to 3.5 percent in May.", "Prices of fuel led the rise."],
    ),
    (
        "“We will not retreat,” he said.” Officials later confirmed it.",
        ["“We will not retreat,” he said.”", "Officials later confirmed it."],
    ),
    (
        "The minister said: “The bridge is destroyed.” Repairs may take months.",
        ["The minister said: “The bridge is destroyed.”", "Repairs may take months."],
    ),
    (
        "“Is it safe?” she asked. Nobody answered.",
        ["“Is it safe?” she asked.", "Nobody answered."],
    ),
    (
        "The count went on... and on. Then it stopped… Silence followed.",
        ["The count went on... and on.", "Then it stopped…", "Silence followed."],
    ),
    (
        "Where are the shells? Nobody knows! The depot is empty.",
        ["Where are the shells?", "Nobody knows!", "The depot is empty."],
    ),
    (
        "Photos were released (see below.) The army denied it.",
        ["Photos were released (see below.)", "The army denied it."],
    ),
    (
        "Heavy weapons, e.g. tanks, were moved. Observers counted 40.",
        ["Heavy weapons, e.g. tanks, were moved.", "Observers counted 40."],
    ),
    (
        "Losses reached 1,200 in 2024. 300 more were reported missing.",
        ["Losses reached 1,200 in 2024.", "300 more were reported missing."],
    ),
    (
        "The company, Acme Inc. and its staff left the city. Offices closed.",
        ["The company, Acme Inc. and its staff left the city.", "Offices closed."],
    ),
    (
        "Lt. Col. Ivan Petrenko was decorated. Sgt. Maria Koval was too.",
        ["Lt. Col. Ivan Petrenko was decorated.", "Sgt. Maria Koval was too."],
    ),
    (
        "KYIV, Oct 28 (Reuters) - Strikes hit the capital. Two people died.",
        ["KYIV, Oct 28 (Reuters) - Strikes hit the capital.", "Two people died."],
    ),
    (
        "A headline on its own line\nThe first paragraph starts here. It ends here.",
        [
            "A headline on its own line",
            "The first paragraph starts here.",
            "It ends here.",
        ],
    ),
    (
        "Troops were moved to the\n        southern front overnight. Shelling went on.\nNext paragraph",
        [
            "Troops were moved to the southern front overnight.",
            "Shelling went on.",
            "Next paragraph",
        ],
    ),
    (
        "Visit kyivindependent.com for more. The site was down.",
        ["Visit kyivindependent.com for more.", "The site was down."],
    ),
    (
        "LA CROSSE, Wis. (AP) — Both campaigns arrived. Crowds waited.",
        ["LA CROSSE, Wis. (AP) — Both campaigns arrived.", "Crowds waited."],
    ),
    (
        "The commander fell ill. Doctors flew in from Lviv.",
        ["The commander fell ill.", "Doctors flew in from Lviv."],
    ),
    (
        "Officials from the U.N. and the E.U. met. A statement followed.",
        ["Officials from the U.N. and the E.U. met.", "A statement followed."],
    ),
]

CYRILLIC: list[tuple[str, list[str]]] = [
    (
        "Обстріл почався 27 окт. 2024 г. около полуночи. Погибших нет.",
        ["Обстріл почався 27 окт. 2024 г. около полуночи.", "Погибших нет."],
    ),
    (
        "Указ підписано 12 березня 2024 р. Зеленський прокоментував рішення.",
        ["Указ підписано 12 березня 2024 р.", "Зеленський прокоментував рішення."],
    ),
    (
        "Вибух пролунав на вул. Хрещатик у м. Київ. Рятувальники на місці.",
        ["Вибух пролунав на вул. Хрещатик у м. Київ.", "Рятувальники на місці."],
    ),
    (
        "Про це заявив ген. Сирський. Він відвідав позиції.",
        ["Про це заявив ген. Сирський.", "Він відвідав позиції."],
    ),
    (
        "Знищено танки, гармати, дрони і т.д. Втрати ворога зростають.",
        ["Знищено танки, гармати, дрони і т.д.", "Втрати ворога зростають."],
    ),
    (
        "Музей им. Пушкина закрыт. Экспонаты вывезли.",
        ["Музей им. Пушкина закрыт.", "Экспонаты вывезли."],
    ),
    (
        "Справу відкрито за ст. 111 ККУ. Підозрюваного затримали.",
        ["Справу відкрито за ст. 111 ККУ.", "Підозрюваного затримали."],
    ),
    (
        "Евакуйовано понад 12 тис. людей. Ще 3 тис. Чекають на автобуси.",
        ["Евакуйовано понад 12 тис. людей.", "Ще 3 тис.", "Чекають на автобуси."],
    ),
    (
        "Збитки сягнули 5 млн. грн. Поліція відкрила провадження.",
        ["Збитки сягнули 5 млн. грн.", "Поліція відкрила провадження."],
    ),
    (
        "Зустріч провели В. Зеленський та А. Єрмак. Деталі не розголошують.",
        ["Зустріч провели В. Зеленський та А. Єрмак.", "Деталі не розголошують."],
    ),
    (
        "«Ми вистоїмо», — сказав він. «Перемога буде за нами.» Зал аплодував.",
        ["«Ми вистоїмо», — сказав він.", "«Перемога буде за нами.»", "Зал аплодував."],
    ),
]


@pytest.mark.parametrize(("text", "expected"), ENGLISH)
def test_english_sentences(text: str, expected: list[str]) -> None:
    """English news text splits at sentence ends only, not at abbreviations, initials or decimals."""
    assert split_sentences(text) == expected


@pytest.mark.parametrize(("text", "expected"), CYRILLIC)
def test_cyrillic_sentences(text: str, expected: list[str]) -> None:
    """Ukrainian and Russian text keeps its abbreviations (вул., ген., тис., т.д.) inside sentences."""
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   \n\n  ", []),
        ("No terminator at all", ["No terminator at all"]),
        ("One.\n\nTwo.", ["One.", "Two."]),
        ("Trailing spaces.   ", ["Trailing spaces."]),
    ],
)
def test_edge_cases(text: str, expected: list[str]) -> None:
    """Empty and blank input give no sentences; text without a terminator is one sentence."""
    assert split_sentences(text) == expected


def test_rejoining_keeps_every_word() -> None:
    """Splitting loses no text: the sentences rejoined equal the input with whitespace folded."""
    for text, _ in ENGLISH + CYRILLIC:
        assert " ".join(split_sentences(text)).split() == text.split()


def test_seed_article_sentences(corpus) -> None:
    """The seed article's dates ("Oct. 27") and names stay inside their sentences."""
    body = (corpus / "seed-article.txt").read_text(encoding="utf-8")
    sentences = split_sentences(body)
    assert len(sentences) > 20
    assert not any(s.endswith(("Oct.", "Gen.", "U.S.")) for s in sentences)
    assert not any(s[0].islower() for s in sentences)
    assert any("Oct. 27" in s and "Zelensky" in s for s in sentences)
    assert any("Oct. 29" in s and "Sullivan" in s for s in sentences)


def test_splitting_is_fast() -> None:
    """Thousands of short descriptions split per second: no model, plain string work."""
    text = " ".join(t for t, _ in ENGLISH[:8])
    start = time.perf_counter()
    for _ in range(1000):
        split_sentences(text)
    assert time.perf_counter() - start < 2.0
