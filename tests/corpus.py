"""Where the corpus of difficult real mail lives (beside the repository), for the corpus tests."""

import os

import pytest

CORPUS = os.path.normpath(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                       os.pardir, "shared", "corpora"))
# Every file but the folders' own README texts (where each sample came from, its licence).
FILES = sorted(os.path.join(d, f) for d, _, fs in os.walk(CORPUS) for f in fs
               if not f.lower().startswith("readme"))
MARKS = [pytest.mark.corpus, pytest.mark.skipif(not FILES, reason="../shared/corpora is absent")]
