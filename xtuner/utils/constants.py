"""Constants shared across xtuner (names as in XTuner 0.2)."""

IGNORE_INDEX = -100  # label of a token that is not trained on (cross-entropy ignore_index)
DEFAULT_PAD_TOKEN_INDEX = 0
