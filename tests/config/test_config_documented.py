"""Every configuration key is typed and documented where it is declared (mne-bids-pipeline style)."""

import pytest
from pydantic import BaseModel

from c2stats.config import SECTION_MODELS, AnalysisFile, DatasetRef, VcovSpec
from c2stats.families import FAMILIES


def all_config_models() -> list[type[BaseModel]]:
    models = [AnalysisFile, DatasetRef, VcovSpec, *SECTION_MODELS.values()]
    models += [family.Options for family in FAMILIES.values()]
    return models


@pytest.mark.parametrize("model", all_config_models(), ids=lambda m: m.__name__)
def test_every_key_documented(model):
    undocumented = [name for name, field in model.model_fields.items() if not (field.description or "").strip()]
    assert not undocumented, f"{model.__name__}: document {undocumented} with Field(description=...)"
    assert model.model_config.get("extra") == "forbid", f"{model.__name__} must reject unknown keys"
