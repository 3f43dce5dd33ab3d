"""Language models for summaries, behind one small protocol (:class:`ChatModel`).

:func:`open_model` turns the settings into a model:

- ``MEDSEARCH_LLM_URL`` set: an OpenAI-compatible endpoint (:mod:`search.llm.endpoint`);
- else ``MEDSEARCH_LLM=packaged`` (default): the packaged Qwen2.5-Coder-1.5B-Instruct GGUF
  (:mod:`search.llm.packaged`), run on this machine;
- ``MEDSEARCH_LLM=/path/model.gguf``: that file, run on this machine;
- ``MEDSEARCH_LLM=none``: no model (summaries are extractive).

A local model runs on OpenVINO (``MEDSEARCH_LLM_RUNTIME=openvino``, the default,
:mod:`search.llm.openvino_local`) or llama.cpp (``llama.cpp``, :mod:`search.llm.local`).

Nothing is loaded here: a local model loads on its first request.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ingest.errors import ConfigError
from search.config import Settings, expanded
from search.llm.base import (
    ChatModel,
    GenerationOptions,
    GenerationStats,
    LLMError,
    Message,
    ModelUnavailable,
    TimedStream,
)

if TYPE_CHECKING:
    from search.llm.local import LocalModel
    from search.llm.openvino_local import OpenVINOModel

__all__ = [
    "ChatModel", "GenerationOptions", "GenerationStats", "LLMError", "Message", "ModelUnavailable",
    "TimedStream", "open_model",
]


def open_model(settings: Settings, *, environ: dict[str, str] | None = None) -> ChatModel:
    """The configured model; :class:`ModelUnavailable` when there is none to use."""
    env = os.environ if environ is None else environ
    if settings.llm_url:
        from search.llm.endpoint import EndpointModel

        if not settings.llm_model_name:
            raise ConfigError(
                "MEDSEARCH_LLM_URL is set but MEDSEARCH_LLM_MODEL_NAME is not.",
                hint="Set MEDSEARCH_LLM_MODEL_NAME to a model the endpoint serves, e.g. llama3.1:8b.",
            )
        return EndpointModel(settings.llm_url, settings.llm_model_name,
                             api_key=env.get(settings.llm_api_key_env), key_env=settings.llm_api_key_env)
    choice = settings.llm.strip()
    if choice.lower() == "none":
        raise ModelUnavailable("No summary model is configured (MEDSEARCH_LLM=none).",
                               hint="Unset MEDSEARCH_LLM to use the packaged model.")
    runtime: type[LocalModel] | type[OpenVINOModel]
    if settings.llm_runtime == "llama.cpp":
        from search.llm.local import LocalModel as runtime
    else:
        from search.llm.openvino_local import OpenVINOModel as runtime

    if choice.lower() == "packaged":
        from search.llm import packaged

        path = packaged.packaged_model_path(settings.models_dir)
        return runtime(path, name=packaged.NAME, identity=f"gguf-sha256:{packaged.SHA256}",
                       threads=settings.llm_threads)
    path = expanded(choice)
    if not path.is_file():
        raise ModelUnavailable(f"MEDSEARCH_LLM names {path}, which is not a file.",
                               hint="Give the path of a .gguf model, 'packaged' or 'none'.")
    return runtime(path, threads=settings.llm_threads)
