"""The model registry: which base models and fine-tuned adapters exist and where they live on disk."""

from __future__ import annotations

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"
