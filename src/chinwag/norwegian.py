"""English glosses for common Norwegian customer-service words, for an English-only embedder.

The default embedding model (all-MiniLM-L6-v2) knows little Norwegian; a Norwegian message
gets the English words for what it asks appended ("Hva koster det?" -> "Hva koster det?
(what costs it)") before it is embedded and classified. Only general words of shops and
services are here, no shop's product names: the flows' own Norwegian examples do the rest.
"""

from __future__ import annotations

import re

GLOSSES = {
    # greetings and small words
    "hei": "hello", "hallo": "hello", "heisann": "hello", "takk": "thanks",
    "tusen takk": "thank you very much", "ha det": "goodbye", "god morgen": "good morning",
    "god kveld": "good evening", "hvordan": "how", "hva": "what", "hvor": "where",
    "hvor mange": "how many", "hvor mye": "how much", "igjen": "left", "mest": "most",
    "når": "when", "hvem": "who", "hvorfor": "why", "hvilken": "which", "hvilke": "which",
    "kan": "can", "jeg": "I", "vi": "we", "dere": "you", "har": "have", "er": "is",
    "det": "it", "ikke": "not", "med": "with", "til": "to", "fra": "from", "min": "my",
    "mitt": "my", "mine": "my", "hjelp": "help", "spørsmål": "question", "ringe": "call",
    # money
    "koster": "costs", "pris": "price", "prisen": "the price", "priser": "prices",
    "mye": "much", "billig": "cheap", "billigere": "cheaper", "dyr": "expensive",
    "dyrt": "expensive", "betale": "pay", "betaling": "payment", "rabatt": "discount",
    "faktura": "invoice", "kvittering": "receipt", "refusjon": "refund", "penger": "money",
    "tilbake": "back", "gratis": "free of charge", "depositum": "deposit", "gebyr": "fee",
    # booking and time
    "bestille": "book order", "bestilling": "booking order", "bestilt": "ordered",
    "booke": "book", "avbestille": "cancel", "avlyse": "cancel", "flytte": "move",
    "endre": "change", "time": "appointment", "timen": "the appointment",
    "timer": "appointments", "ledig": "available free", "ledige": "available free",
    "opptatt": "busy", "i dag": "today", "i morgen": "tomorrow", "i kveld": "tonight",
    "neste uke": "next week", "helg": "weekend", "helgen": "the weekend",
    "mandag": "Monday", "tirsdag": "Tuesday", "onsdag": "Wednesday", "torsdag": "Thursday",
    "fredag": "Friday", "lørdag": "Saturday", "søndag": "Sunday", "påske": "Easter",
    "påsken": "Easter", "jul": "Christmas", "sommer": "summer", "vinter": "winter",
    "åpent": "open", "åpningstider": "opening hours", "stengt": "closed",
    "forsinket": "delayed", "innstilt": "cancelled",
    # orders, goods, rentals
    "ordre": "order", "ordren": "the order", "pakke": "parcel", "pakken": "the parcel",
    "levering": "delivery", "levert": "delivered", "sendt": "shipped", "sporing": "tracking",
    "lager": "stock", "på lager": "in stock", "leie": "rent", "utleie": "rental",
    "utsolgt": "sold out", "solgt": "sold", "billigste": "cheapest", "dyreste": "most expensive",
    "billigst": "cheapest", "dyrest": "most expensive", "leverer": "deliver", "levere": "deliver",
    "passer": "suits goes with",
    "flaske": "bottle", "flasker": "bottles",
    "kjøpe": "buy", "selge": "sell", "bytte": "exchange swap", "returnere": "return",
    "retur": "return", "størrelse": "size", "anbefale": "recommend", "gave": "gift",
    # problems
    "vondt": "pain hurts", "smerte": "pain", "akutt": "acute urgent", "ødelagt": "broken",
    "virker": "works", "fungerer": "works", "skitten": "dirty", "klage": "complaint",
    "feil": "wrong fault", "glemt": "forgot", "glemte": "forgot", "mistet": "lost",
    "funnet": "found", "reparasjon": "repair", "reparere": "repair",
}  # fmt: skip
# Common Norwegian words: any of them (or æ, ø, å) in a message has it glossed.
MARKERS = (
    "jeg", "dere", "deres", "hva", "hvor", "hvordan", "hvilke", "hvilken", "hvem", "hvorfor",
    "ikke", "og", "noen", "koster", "takk", "hei",
)  # fmt: skip
NORWEGIAN = re.compile(
    rf"[æøå]|\b(?:{'|'.join(MARKERS)}|har dere|er det|kan jeg|kan dere)\b", re.IGNORECASE
)
WORD = re.compile(r"[a-zæøå]+")
# Words that mark a message's language when counting (neither list has a word of the other
# language: Norwegian "i", "for", "to", "min" are left out of the English ones).
NORWEGIAN_WORDS = frozenset(MARKERS) | {
    "hallo", "har", "er", "det", "kan", "vi", "du", "med", "til", "fra", "på", "som", "vil",
    "skal", "eller", "hvis", "mye", "mange", "igjen", "om", "en", "et", "ei", "den", "dette",
    "disse", "meg", "oss", "vår", "våre", "deg",
}  # fmt: skip
ENGLISH_WORDS = frozenset({
    "the", "is", "are", "do", "does", "did", "what", "where", "when", "which", "who", "why",
    "how", "you", "your", "have", "has", "can", "could", "would", "will", "my", "me", "we", "our",
    "this", "that", "these", "those", "with", "please", "thanks", "thank", "hello", "hi", "of",
    "and", "it", "an", "any", "there", "much", "many",
})  # fmt: skip


def reads_norwegian(text: str) -> bool:
    """True when the text has æ, ø or å, or a common Norwegian word (hva, hvor, dere, takk…):
    any Norwegian in it, which is what glossing needs."""
    return NORWEGIAN.search(text) is not None


def written_in_norwegian(text: str) -> bool:
    """True when the text is mostly Norwegian: more of its words mark Norwegian (æ, ø, å, or a
    common Norwegian word) than English. "Hei! What does the Barolo cost?" is English."""
    words = WORD.findall(text.lower())
    norwegian = sum(1 for w in words if w in NORWEGIAN_WORDS or not w.isascii())
    english = sum(1 for w in words if w in ENGLISH_WORDS)
    return norwegian > english


def with_glosses(text: str) -> str:
    """The text, with English glosses of its Norwegian words appended when it is Norwegian."""
    if not reads_norwegian(text):
        return text
    words = WORD.findall(text.lower())
    found = []
    i = 0
    while i < len(words):
        pair = " ".join(words[i : i + 2])
        if pair in GLOSSES:  # "hvor mye": "how much", not "how much much"
            found.append(GLOSSES[pair])
            i += 2
            continue
        if words[i] in GLOSSES:
            found.append(GLOSSES[words[i]])
        i += 1
    return f"{text} ({' '.join(found)})" if found else text
