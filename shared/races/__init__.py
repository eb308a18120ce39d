"""Travel-app races mapped to OpenF1 meetings and race sessions (pure: no Firestore, no HTTP)."""

from shared.races.mapping import Candidate, Match, TravelRace, assign, candidates, match_race

__all__ = ["Candidate", "Match", "TravelRace", "assign", "candidates", "match_race"]
