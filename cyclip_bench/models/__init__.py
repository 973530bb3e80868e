"""Models through open_clip, re-exported from the modules that hold them:

- ``spec``: the tiny CPU presets, ``ModelInfo`` (name, config, preprocessing) and the checks on stored configs;
- ``factory``: building models by name or from a stored config, and tokenizers;
- ``preprocess``: the image transforms a model's ``preprocess`` entry describes;
- ``checkpoint``: this project's checkpoint payload, atomic saving and safe loading;
- ``weights``: strict loading of weights of every supported layout (open_clip, OpenAI/CyCLIP, plain);
- ``interop``: checkpoints for evaluation (files and pretrained tags) with their provenance;
- ``text_trim``: skipping the text tower's padding positions.
"""

from cyclip_bench.models.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_FORMAT_VERSION,
    check_payload,
    check_state_dict_form,
    load_checkpoint,
    model_payload,
    refuse_folder,
    save_checkpoint,
)
from cyclip_bench.models.factory import (
    convolutional_image_tower,
    create_model,
    create_model_from_config,
    create_training_model,
    get_tokenizer,
    model_from_checkpoint,
    wants_channels_last,
)
from cyclip_bench.models.preprocess import build_pil_stage, build_transform, normalize_uint8
from cyclip_bench.models.spec import (
    DEFAULT_MODEL,
    PRESET_DIR,
    PRESETS,
    ModelInfo,
    PreprocessSpec,
    check_image_size,
    check_model_config,
    check_model_name,
    check_preprocess,
    model_names,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "DEFAULT_MODEL",
    "PRESETS",
    "PRESET_DIR",
    "ModelInfo",
    "PreprocessSpec",
    "build_pil_stage",
    "build_transform",
    "check_image_size",
    "check_model_config",
    "check_model_name",
    "check_payload",
    "check_preprocess",
    "check_state_dict_form",
    "convolutional_image_tower",
    "create_model",
    "create_model_from_config",
    "create_training_model",
    "get_tokenizer",
    "load_checkpoint",
    "model_from_checkpoint",
    "model_names",
    "model_payload",
    "normalize_uint8",
    "refuse_folder",
    "save_checkpoint",
    "wants_channels_last",
]
