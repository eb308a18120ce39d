"""Circuit and place names, normalised so the travel app's names meet OpenF1's, pure.

The travel app names a race's circuit its own way: a full name ("Marina Bay Street Circuit"), an
Ergast/Jolpica circuit id ("marina_bay") or a town ("Singapore"). OpenF1 gives three short names
per meeting: ``circuit_short_name`` ("Singapore"), ``location`` ("Marina Bay") and
``country_name`` ("Singapore"). Both sides become *place keys*:

1. :func:`tokens`: ASCII lower-case words, without generic words ("circuit", "international",
   "autodromo", "grand prix", ...), so "Autódromo Nazionale di Monza" is ``["monza"]``;
2. an alias table folds the names F1 uses for one venue onto one key ("Yas Marina", "Yas Island",
   "Abu Dhabi", "United Arab Emirates" are all ``abu_dhabi``);
3. the race's side also tries every run of consecutive words ("Las Vegas Strip" contains
   ``las_vegas``), OpenF1's side only the whole name (so "United Kingdom" never meets "United
   States" through "united").

Countries with several races (Italy, the United States, Spain once) are deliberately NOT folded
onto a venue: a country alone is only a weak match that the date must make unique.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Words that say nothing about which venue it is.
_GENERIC = frozenset(
    {
        *("circuit", "circuito", "circuits", "autodromo", "autodrome", "international", "internacional"),
        *("nazionale", "grand", "prix", "gp", "street", "race", "racing", "course", "track", "raceway"),
        *("speedway", "formula", "f1", "city", "of", "the", "de", "di", "do", "del", "la", "le", "e"),
    }
)

# One venue (or single-race country), every name F1, OpenF1, Ergast or a travel app gives it.
_VENUES: dict[str, tuple[str, ...]] = {
    "abu_dhabi": ("yas_marina", "yas_island", "yas", "united_arab_emirates", "uae"),
    "australia": ("melbourne", "albert_park", "australian"),
    "austria": ("spielberg", "red_bull_ring", "austrian", "zeltweg", "osterreichring"),
    "azerbaijan": ("baku",),
    "bahrain": ("sakhir",),
    "belgium": ("spa", "spa_francorchamps", "francorchamps", "belgian", "stavelot"),
    "brazil": ("interlagos", "sao_paulo", "jose_carlos_pace", "carlos_pace", "brazilian"),
    "britain": ("silverstone", "united_kingdom", "great_britain", "uk", "british"),
    "canada": ("montreal", "gilles_villeneuve", "villeneuve", "notre_dame", "canadian"),
    "china": ("shanghai", "chinese"),
    "france": ("paul_ricard", "ricard", "castellet", "french"),
    "hungary": ("hungaroring", "budapest", "mogyorod", "hungarian"),
    "imola": ("enzo_dino_ferrari", "emilia_romagna", "santerno"),
    "japan": ("suzuka", "japanese"),
    "las_vegas": ("vegas", "las_vegas_strip"),
    "mexico": ("mexico_city", "hermanos_rodriguez", "rodriguez", "mexican"),
    "miami": ("miami_gardens", "hard_rock_stadium"),
    "monaco": ("monte_carlo", "montecarlo"),
    "monza": ("monza_park",),
    "netherlands": ("zandvoort", "dutch", "park_zandvoort"),
    "portugal": ("portimao", "algarve", "portuguese"),
    "qatar": ("lusail", "losail", "al_daayen", "doha"),
    "russia": ("sochi", "russian"),
    "saudi_arabia": ("jeddah", "jeddah_corniche", "corniche", "saudi", "saudi_arabian"),
    "singapore": ("marina_bay", "marina_bay_street"),
    "spain": ("barcelona", "catalunya", "barcelona_catalunya", "montmelo", "spanish"),
    "turkey": ("istanbul", "istanbul_park", "tuzla", "turkish"),
    "austin": ("americas", "cota"),
    "germany": ("hockenheim", "hockenheimring", "german"),
    "nurburgring": ("nurburg", "eifel"),
    "mugello": ("scarperia", "tuscan", "tuscany"),
}
_ALIASES: dict[str, str] = {alias: key for key, aliases in _VENUES.items() for alias in (key, *aliases)}


def tokens(text: str) -> list[str]:
    """ASCII lower-case words of ``text`` without the generic ones ("Circuit de Monaco" -> monaco)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return [w for w in re.split(r"[^a-z0-9]+", ascii_text) if w and w not in _GENERIC]


def place_key(name: str) -> str:
    """The key of a whole name: its words joined by ``_``, folded through the alias table."""
    joined = "_".join(tokens(name))
    return _ALIASES.get(joined, joined)


def openf1_keys(names: Iterable[str | None]) -> frozenset[str]:
    """Place keys of OpenF1's names for one meeting (whole names only; empty ones dropped)."""
    return frozenset(k for k in (place_key(n) for n in names if n) if k)


def race_keys(name: str | None) -> frozenset[str]:
    """Place keys of a travel-app name: the whole name and every run of consecutive words."""
    if not name:
        return frozenset()
    words = tokens(name)
    runs = {"_".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}
    return frozenset(_ALIASES.get(run, run) for run in runs)
