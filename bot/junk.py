"""Page junk that survives HTML cleaning: subscribe prompts, comment forms, share buttons.

These lines come from the page around an article (a feed's full text, or an extracted page)
and would otherwise end up in summaries and in near-duplicate fingerprints. The rules work on
plain text with one paragraph per line (the output of `normalise.clean_text` or of
extraction) and only ever drop short lines, short sentences or phrases at a line's end, so a
real paragraph that merely mentions "subscribe" or "cookies" survives. A line of several
sentences is judged sentence by sentence: a feed description such as "Russian forces shelled
12 communities … officials said. Subscribe to our daily newsletter. We use cookies …" loses
its last two sentences and keeps the first.
"""

from __future__ import annotations

import re

from bot.sentences import split_sentences

_MAX_JUNK_LINE = 160
"""A line longer than this is prose, whatever words it contains (cookie banners excepted)."""

_MAX_BANNER_LINE = 400
"""A cookie banner can run this long (it is tested per sentence, so a paragraph of news with
a banner sentence in it keeps its news)."""

_NEWS_WORDS = 8
"""A sentence this many words long can be news (see `_news_sentences`)."""

_MAX_SPLIT_LINE = 20_000
"""A line longer than this (a whole text run together, such as a 2 MB description) is not
split into sentences, which would cost about a second per 400 kB; only its tail is cut."""

_DECORATION = " \t›»«→←•·|*–—-:>"

_ANY_STOP = re.compile(r"(?<=[.!?])\s+")
"""Any stop followed by a space, whatever comes next (see `_news_within`)."""

_SOCIAL = (
    r"facebook|twitter|x|whatsapp|linkedin|telegram|reddit|e-?mail|messenger|viber|"
    r"pinterest|flipboard|bluesky|threads|vk|print|copy link"
)

_JUNK_LINE = re.compile(
    r"(?:"
    r"subscribe(?: now| here| today)?|subscribe (?:to|for) .*|"
    r"sign up(?: now| here)?|sign up (?:for|to) .*|.*\bnewsletters?\b.*sign[ -]?up.*|"
    r"get (?:our|the) .*newsletter.*|newsletter|"
    r"leave a (?:reply|comment)|post a comment|comments?|\d+ comments?|add a comment|"
    r"please enter your (?:comment|name|e-?mail address)(?: here)?!?|"
    r"you have entered an incorrect e-?mail address!?|"
    r"save my name, e-?mail,? and website .*|notify me of .* by e-?mail\.?|"
    r".*\brecaptcha\b.*|"
    r"read more|read more(?::| here| about| on) .*|continue reading.*|keep reading\b.*|"
    r"also read\s*[:|–—-].*|"
    r"(?:this (?:article|story|post|piece|report) (?:was )?)?"
    r"(?:originally published|(?:originally|first) appeared) (?:on|in|by|at) [^,]{1,80}|"
    r"see (?:also|more)\b.*|also on [\w-]+\.[\w.]{2,}\b.*|don'?t miss(?::.*)?|"
    r"like this (?:story|article)\?.*|"
    r"rate,? review,? (?:and )?(?:share|subscribe)\b.*|join the conversation on .*|"
    r"(?:lesen sie|mehr zum thema|à lire aussi|lire aussi|leggi anche|lee también|"
    r"czytaj (?:też|także|więcej)).*|"
    r".*\[(?:video|pictures|photos|insight|reaction|reveal|latest|poll|analysis|maps?)\]\W*|"
    r"[\d.:/|, -]+(?:min|sec|s)?|"
    r".*\b(?:newsletter|daily edition|by e-?mail|inbox|never miss)\b.*"
    r"\b(?:sign ?up|subscribe|register)\b.*|"
    r"read (?:the )?full (?:story|article).*|full story|"
    r"\[(?:…|\.\.\.)\]|…|\.\.\.|"
    r"(?:related|more|top|latest|recommended|trending|popular)(?: articles| stories| posts| news"
    r"| content| coverage| videos| reading)?(?: (?:from|on) [^.!?]{1,40})?|"
    r"you (?:may|might) also (?:like|be interested in).*|recommended for you|"
    r"(?:most|also) (?:read|popular|viewed|shared)|read (?:next|also).*|what to read next|"
    r"(?:share|tweet|e-?mail|print)(?: this)?(?: article| story| page| post)?"
    rf"(?: (?:on|via|to) (?:{_SOCIAL}))?|"
    rf"(?:{_SOCIAL})|"
    r"click here to .*|click here|tap here to .*|"
    r"advertisement|advertising|sponsored(?: content)?|ad|"
    r"(?:story|article) continues below(?: advertisement)?|scroll to continue.*|"
    r"follow us on .*|join (?:us|our .*) on .*|"
    r"sign in|log ?in|register|skip to (?:main )?content|listen to this article|"
    r"please (?:reload|refresh) (?:the|this) page\.?|"
    # A caption label ("Image caption, …", BBC's glued "image copyrightTwitter/ …", "Photo
    # credit AP") needs no separator; a bare "Photo", "Video" … needs one ("Photo: Reuters",
    # "Photo by …", "Video, 00:02:10"), since "Photo shows …" or "Video shows Russian strike
    # on …" is a news sentence or headline.
    r"(?:(?:photo|image|media|video) ?(?:copyright|caption|source)|"
    r"(?:photo|photograph|image|picture|video) credit)(?:\s*(?:by\b|:|,))?\s*.{1,100}|"
    r"(?:photo|photograph|image|picture|video)\s*(?:by\b|:|,)\s*.{1,100}|"
    r"(?:foto|фото)(?: credit)?(?:\s*(?:by|:|,))?\s+.{1,100}|"
    r"related: .*|"
    r"getty images|"
    r"(?:by|von|par|por|автор:?) (?-i:[A-ZА-ЯІЇЄҐ][\w.'’-]*)"
    r"(?:(?: |, | and | & )(?-i:[A-ZА-ЯІЇЄҐ][\w.'’-]*)){0,6}|"
    r"(?:©|\(c\)|copyright ©|copyright \d{4}).*|all rights reserved\.?|"
    r"(?:читайте|читати|дивіться|смотрите) (?:також|также|нас)\b.*|"
    r"(?:підписуйтесь|подписывайтесь|подпишитесь|підпишіться) .*"
    r")",
    re.IGNORECASE,
)

_BANNER_LINE = re.compile(
    r".*\bcookies?\b.*\b(?:we use|uses|use of|accept|consent|policy|settings|preferences|"
    r"agree|help us)\b.*|.*\b(?:we use|uses|accept|consent to|agree to|use of)\b.*\bcookies?\b.*",
    re.IGNORECASE,
)

# "Published 12:30, 5 December 2022", "Updated at 1:23 p.m.", "Last updated: 5 Dec, 12:30 GMT":
# the prefix, then only numbers and the words of `_STAMP_WORDS` (see `_is_timestamp`).
_STAMP = re.compile(
    r"(?:last )?(?:published|updated)(?: on| at)?:? (?P<when>[\w ,:.+/|()·–—-]{1,80})",
    re.IGNORECASE,
)
_STAMP_WORD = re.compile(r"[^\W\d_]+")
_STAMP_WORD_LIST = """
    jan january feb february mar march apr april may jun june jul july aug august sep sept
    september oct october nov november dec december mon monday tue tues tuesday wed
    wednesday thu thur thurs thursday fri friday sat saturday sun sunday st nd rd th h
    a p m am pm ago just now today yesterday at on and sec secs second seconds min mins
    minute minutes hr hrs hour hours day days week weeks month months year years
    gmt utc bst cet cest eet eest msk est edt cst cdt mst mdt pst pdt et ct pt ist aest local
    time
"""
_STAMP_WORDS = frozenset(_STAMP_WORD_LIST.split())

_SECTION_END = re.compile(
    r"(?:leave a (?:reply|comment)|related (?:articles|stories|posts|news|coverage)|"
    r"more (?:articles|stories)|you (?:may|might) also like.*|recommended for you|"
    r"most (?:read|popular|viewed)|what to read next|\d* ?comments?)",
    re.IGNORECASE,
)

_TAIL_PHRASES = (
    r"continue reading|read more|read the full (?:story|article)|full story|"
    r"weiterlesen|lire la suite|leggi tutto|seguir leyendo|читать далее|читати далі|"
    r"читать полностью"
)

_LINE_TAIL = re.compile(
    r"(?:\s*\bThe post\b.{1,300}?\bappeared first on\b.{0,200}"
    r"|\s*(?:\[(?:…|\.\.\.)\]|\[(?:read )?more\])"
    rf"|\s*\b(?:{_TAIL_PHRASES})\W{{0,4}})$",
    re.IGNORECASE,
)

_END_HINT = re.compile(rf"\]$|(?:{_TAIL_PHRASES})\W{{0,4}}$", re.IGNORECASE)
_PHRASE_REACH = 25
"""The longest tail phrase ("read the full article") and its \\W{0,4}: a bracket or phrase
tail of `_LINE_TAIL` lies within the line's last this many characters."""

_APPEARED = re.compile("appeared first on", re.IGNORECASE)
_APPEARED_REACH = len("appeared first on") + 200
"""`_LINE_TAIL`'s "The post … appeared first on …" ends at most 200 characters after it."""

_CREDIT_TAIL = re.compile(
    r"(?P<end>^|[.!?…\"”’)\]])\s*[(\[]?(?:photo|photograph|image|picture|foto|фото)"
    r"(?: credit)?\s*(?:by\b|:)\s*[^()\[\]\n.!?]{1,80}(?:\.\w[^()\[\]\n.!?]{0,40})?[)\]]?\s*$",
    re.IGNORECASE,
)


def strip_junk(text: str) -> str:
    """The text without page junk: junk lines dropped, junk sentences cut out of lines that
    mix them with news, junk phrases cut off line ends.

    A section marker such as "LEAVE A REPLY" or "Related articles" after the first
    paragraph ends the article: what follows it is a comment form or a list of other
    headlines, neither of which the rules could recognise line by line.
    """
    kept: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        stripped = _strip_tail(line)
        core = stripped.strip(_DECORATION)
        if not core:
            continue
        if kept and len(core) <= _MAX_JUNK_LINE and _SECTION_END.fullmatch(core):
            break
        if not any(ch.isalnum() for ch in core):
            continue
        news = _news_sentences(line, core)
        if news is None:
            kept.append(stripped)
        elif news:
            kept.append(_strip_tail(" ".join(news)))
    return "\n".join(kept)


def _news_sentences(line: str, core: str) -> list[str] | None:
    """The sentences of `line` that are not junk; None when none of them is (the line stays
    as it is), [] when the line goes.

    A rule that matches a whole short line ("Like this story? Share it with a friend!",
    "Subscribe to … .*") keeps its sentences that no rule knows only when one of them is
    news-sized: "Please reload the page." after a reCAPTCHA notice is not news, but
    "Subscribe to our newsletter. Russian forces shelled 12 communities …" holds some.
    A sentence without letters ("…" or "(...)" eliding part of a quote, a "300." split off
    after an abbreviation) is never junk inside a line.
    """
    sentences = split_sentences(line) if len(line) <= _MAX_SPLIT_LINE else [line]
    if len(sentences) < 2:
        return _news_within(line) if _is_junk_sentence(line) else None
    news: list[str] = []
    for sentence in sentences:
        if not any(ch.isalpha() for ch in sentence) or not _is_junk_sentence(sentence):
            news.append(sentence)
        else:
            news += _news_within(sentence)
    if news == sentences:
        return None
    if not any(ch.isalpha() for s in news for ch in s):
        return []
    if _is_junk_line(core) and not any(len(s.split()) >= _NEWS_WORDS for s in news):
        return []
    return news


def _news_within(sentence: str) -> list[str]:
    """The pieces of a junk sentence that read as news sentences of their own (news-sized,
    a capital to start, a stop to end) and are not junk: a link's text glued on in lower
    case ("… officials said. click Cookie notice: we use cookies.") hides a sentence end
    from the splitter, and the cookie rule would take the news along."""
    pieces = _ANY_STOP.split(sentence)
    if len(pieces) < 2:
        return []
    return [
        piece
        for piece in pieces
        if len(piece.split()) >= _NEWS_WORDS
        and (piece[0].isupper() or piece[0].isdigit() or piece[0] in '"“«')
        and piece[-1] in '.!?"”»'
        and not _is_junk_sentence(piece)
    ]


def _is_junk_sentence(sentence: str) -> bool:
    """Whether a sentence (or a line of one sentence) is junk, with or without its tail:
    "Click here to read the full story." is junk whole, though cutting its tail phrase
    would leave "Click here to", which no rule knows. A closing "." or "!" is not part of
    what the rules look at, so "Subscribe now!" and "Advertisement." go as "Subscribe" does."""
    core = _strip_tail(sentence).strip(_DECORATION).rstrip(".!")
    if not any(ch.isalnum() for ch in core) or _is_junk_line(core):
        return True
    whole = sentence.strip(_DECORATION).rstrip(".!")
    return whole != core and _is_junk_line(whole)


def _strip_tail(line: str) -> str:
    """Cut trailing junk phrases, repeatedly: "… [more] Photo: AP" loses both."""
    while True:
        shorter = _LINE_TAIL.sub("", line) if _may_have_tail(line) else line
        shorter = _CREDIT_TAIL.sub(lambda m: m.group("end"), shorter).rstrip()
        if shorter == line:
            return line
        line = shorter


def _may_have_tail(line: str) -> bool:
    """False only when `_LINE_TAIL` cannot match: each of its tails needs a bracket, a
    phrase or "appeared first on" near the line's end, and looking only there is several
    times cheaper than running `_LINE_TAIL` over the whole line. Case-insensitive matching
    of ASCII words equals comparing lower-cased ASCII text, so an ASCII end is checked with
    `in`; other text (where "ı" or "ſ" could match "i" or "s") by the pattern itself.
    """
    size = len(line)
    if _END_HINT.search(line, max(size - _PHRASE_REACH, 0)):
        return True
    start = max(size - _APPEARED_REACH, 0)
    end = line[start:]
    if end.isascii():
        return "appeared first on" in end.lower()
    return _APPEARED.search(line, start) is not None


def _is_junk_line(core: str) -> bool:
    if len(core) <= _MAX_JUNK_LINE and (_JUNK_LINE.fullmatch(core) or _is_timestamp(core)):
        return True
    return len(core) <= _MAX_BANNER_LINE and _BANNER_LINE.fullmatch(core) is not None


def _is_timestamp(core: str) -> bool:
    """Whether `core` is a "Published …"/"Updated …" stamp: after the prefix, a number and
    nothing but date and time words. "Published on 5 December, the UN report says …" and
    "Updated figures show 40 drones …" are news, so a pattern of any words would not do."""
    match = _STAMP.fullmatch(core)
    if match is None:
        return False
    when = match.group("when")
    return any(ch.isdigit() for ch in when) and all(
        word.casefold() in _STAMP_WORDS for word in _STAMP_WORD.findall(when)
    )
