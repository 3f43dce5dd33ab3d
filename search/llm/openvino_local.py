"""A GGUF model run on this machine's CPU by OpenVINO GenAI: the default local runtime.

Why OpenVINO, and why llama.cpp stays: on the development machine (2 cores of an Intel
Xeon with AVX-512 and AMX) the prebuilt ``openvino-genai`` wheel reads a prompt 2-5 times
faster than the prebuilt llama.cpp wheel (``xllamacpp``, built for AVX2 only), because it
picks the CPU's widest instructions at run time. Writing one token at a time is no faster,
so generation uses *prompt lookup*: the runtime proposes the next few tokens by finding the
last words written in the prompt, and the model checks them all in one pass. A finding
copies much of its wording from the abstract, so many proposals are accepted; with greedy
decoding the text is the one the model would write token by token, but for rounding. A finding takes about
half the time (5.7 against 10.6 s p50 on the benchmark's 39 papers; ``docs/quality.md``,
"Speed"). OpenVINO reads GGUF files of common architectures (Llama, Qwen2, Qwen3...) and
quantisations (Q4_0, Q4_K_M, Q8_0...); for any other GGUF set
``MEDSEARCH_LLM_RUNTIME=llama.cpp`` (:mod:`search.llm.local`).

The GGUF file is converted once to OpenVINO's format, beside it in ``<name>.openvino/``
(1.3 GB for the packaged model, about 15 s); later loads read the converted files (3 s).
The conversion is written to a temporary folder and renamed into place with a stamp naming
the GGUF and the OpenVINO version it came from, so a half-written or stale conversion is
never loaded. The model loads on the first request, not when the object is made.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import cast

from search.llm.base import (
    GenerationOptions,
    LLMError,
    LocalFileModel,
    Message,
    ModelUnavailable,
    check_model_file,
    log,
    runtime_missing,
    worker_stream,
)

#: Prompt lookup: tokens proposed per step, and the longest run of last tokens looked up in
#: the prompt. On 24 of the benchmark's finding prompts, side by side, 3 proposed tokens wrote a
#: finding in 4.90 s p50 (7.63 p90), 5 in 5.05 s (8.93), 8 in 5.10 s (8.61).
ASSISTANT_TOKENS = 3
NGRAM_SIZE = 3
#: Compute in 32-bit floats. On CPUs with AMX OpenVINO would use bfloat16, which reads
#: prompts faster (2.2 against 3.3 s p50 to the first token) but writes slower (9.6 against
#: 14.1 tokens/s): a finding took 5.97 s p50 (10.79 p90) against 5.83 s (9.16) in f32.
PRECISION = "f32"
#: The stamp written into a finished conversion.
STAMP = "medsearch-source.json"


class OpenVINOModel(LocalFileModel):
    """A GGUF file run by OpenVINO GenAI on the CPU, converted once and loaded lazily; thread-safe."""

    def __init__(self, path: Path, **kwargs) -> None:  # name, identity, threads: LocalFileModel
        super().__init__(path, **kwargs)
        self._pipe = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # one generation at a time: a pipeline is not re-entrant
        self._warm_lock = threading.Lock()
        self._warm = False

    def load(self):
        """The OpenVINO pipeline with the model loaded (converts and loads on the first call)."""
        with self._load_lock:
            if self._pipe is None:
                self._pipe = _open_pipeline(self.path, self._identity, self.threads)
            return self._pipe

    def warm_up(self) -> None:
        """Load the model and write one token: OpenVINO compiles its kernels on the first
        generation (about 6 s on the 2-core machine, ``docs/app.md``), which the app's preload
        pays at start-up instead of the first summary asked for."""
        pipe = self.load()
        with self._warm_lock:
            if self._warm:
                return
            config = _runtime().GenerationConfig()
            config.max_new_tokens = 1
            config.num_assistant_tokens = ASSISTANT_TOKENS
            config.max_ngram_size = NGRAM_SIZE
            with self._run_lock:
                pipe.generate("Summarize: the trial found no difference.", config)
            self._warm = True

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        pipe = self.load()
        og = _runtime()
        config = og.GenerationConfig()
        config.max_new_tokens = options.max_tokens
        config.do_sample = options.temperature > 0
        if config.do_sample:
            config.temperature = options.temperature
            config.rng_seed = 0
        # Greedy, each proposal is checked against the model's own choice: the text is the one it
        # writes token by token, but for rounding (2 of 24 findings differed between 3 and 5).
        config.num_assistant_tokens = ASSISTANT_TOKENS
        config.max_ngram_size = NGRAM_SIZE
        # No repetition penalty: OpenVINO's counts every prompt token (llama.cpp's only the last
        # 64) and pushes the model away from the abstract's words (conclusion recall 0.32 against 0.38).
        history = og.ChatHistory([m.to_json() for m in messages])
        tokenizer = pipe.get_tokenizer()

        def generate(put, stop: threading.Event) -> None:
            with self._run_lock:
                pipe.generate(history, config, _text_streamer()(tokenizer, put, stop))

        failed = lambda exc: LLMError(  # noqa: E731
            f"OpenVINO failed while generating: {exc}",
            hint="Try again; if it keeps failing, set MEDSEARCH_LLM_RUNTIME=llama.cpp or MEDSEARCH_LLM=none.")
        for text in worker_stream(generate, thread_name="OpenVINO generation", error=failed):
            if text:
                yield cast(str, text)  # the streamer puts decoded text


@functools.cache
def _text_streamer():
    """The streamer class (defined once, on first use: its base comes from ``openvino_genai``).

    It turns OpenVINO's token callbacks into text chunks passed to ``put``, about one per
    token: prompt lookup accepts several tokens at once, decoded here one by one, so tokens/s
    means what it says. Setting ``stop`` ends generation at the next token.
    """
    og = _runtime()

    class TextStreamer(og.StreamerBase):
        def __init__(self, tokenizer, put: Callable[[str], None], stop: threading.Event) -> None:
            super().__init__()
            self._put, self._stop = put, stop
            self._text = og.TextStreamer(tokenizer, self._on_text)

        def _on_text(self, text: str):
            if self._stop.is_set():
                return og.StreamingStatus.STOP
            self._put(text)
            return og.StreamingStatus.RUNNING

        def write(self, token):
            for t in (token if isinstance(token, (list, tuple)) else [token]):
                if self._stop.is_set() or self._text.write(t) != og.StreamingStatus.RUNNING:
                    return og.StreamingStatus.STOP
            return og.StreamingStatus.RUNNING

        def end(self) -> None:
            if not self._stop.is_set():
                self._text.end()

    return TextStreamer


def _runtime():
    """``openvino_genai``, imported without OpenVINO's usage telemetry.

    ``import openvino`` loads its conversion tools, which send an "import" event to Google
    Analytics unless the user opted out, whenever the ``openvino-telemetry`` package is
    installed (it comes with ``openvino``). Nothing may leave the machine by default, so that
    package is made unimportable here first; the tools then use their own no-op stub.
    """
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)
    import openvino_genai

    return openvino_genai


def converted_dir(path: Path) -> Path:
    """Where the OpenVINO conversion of the GGUF file ``path`` is kept."""
    return path.with_name(f"{path.stem}.openvino")


def _stamp(identity: str) -> dict[str, str]:
    return {"source": identity, "openvino": _runtime().__version__}


def _open_pipeline(path: Path, identity: str, threads: int):
    try:
        og = _runtime()
    except ImportError:
        raise runtime_missing("OpenVINO (openvino-genai)") from None
    check_model_file(path)
    target = converted_dir(path)
    stamp = _stamp(identity)
    if _read_stamp(target) != stamp:
        _convert(path, target, stamp, threads)
    try:
        return og.LLMPipeline(str(target), "CPU", INFERENCE_NUM_THREADS=threads,
                              INFERENCE_PRECISION_HINT=PRECISION, prompt_lookup=True)
    except Exception as exc:
        raise ModelUnavailable(
            f"OpenVINO could not load {target}: {str(exc).strip().splitlines()[-1][:300]}",
            hint=f"Delete {target} to convert the model again, or set MEDSEARCH_LLM_RUNTIME=llama.cpp.",
        ) from exc


#: Run in a child process: OpenVINO's GGUF reader can crash the process on a file it cannot
#: read (a damaged file, an architecture it does not know), which must not take the caller
#: (the app, a CLI command) down with it.
_CONVERT = """
import sys
sys.modules["openvino_telemetry"] = None  # no usage telemetry (see _runtime)
import openvino_genai
openvino_genai.LLMPipeline(sys.argv[1], "CPU", enable_save_ov_model=True, INFERENCE_NUM_THREADS=int(sys.argv[2]))
"""


def _convert(path: Path, target: Path, stamp: dict[str, str], threads: int) -> None:
    """Convert ``path`` into ``target`` through a temporary folder, in a child process."""
    log.info("Converting %s for OpenVINO into %s (once; about 15 s)", path.name, target)
    unwritable = ModelUnavailable(f"Cannot write the converted model into {target.parent}.",
                                  hint="It needs 1.3 GB of free disk space there, or set "
                                       "MEDSEARCH_LLM_RUNTIME=llama.cpp.")
    try:
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    except OSError as exc:
        raise unwritable from exc
    try:
        source = work / "model.gguf"
        source.symlink_to(path.resolve())
        done = subprocess.run([sys.executable, "-c", _CONVERT, str(source), str(threads)],
                              capture_output=True, text=True, errors="replace")
        if done.returncode != 0 or not (work / "openvino_model.xml").is_file():
            why = (f"its reader crashed (signal {-done.returncode})" if done.returncode < 0 else
                   (done.stderr.strip().splitlines() or ["no message"])[-1][:300])
            raise ModelUnavailable(
                f"OpenVINO could not load {path.name}: {why}.",
                hint="OpenVINO reads GGUF files of common architectures only; set "
                     "MEDSEARCH_LLM_RUNTIME=llama.cpp for this file, or MEDSEARCH_LLM=none.",
            )
        source.unlink()
        (work / STAMP).write_text(json.dumps(stamp), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)  # a stale conversion (other weights or another OpenVINO version)
        try:
            os.rename(work, target)
        except OSError:
            if _read_stamp(target) != stamp:  # unless another process has just made the same one
                raise
    except OSError as exc:
        raise unwritable from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_stamp(target: Path) -> dict | None:
    try:
        return json.loads((target / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
