"""Text analysis: raw text → clean text (``normalize``), words with offsets (``segment``), index terms (``analyze``)."""
