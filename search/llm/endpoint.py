"""Any OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp server, hosted APIs).

The official ``openai`` client speaks the protocol (streaming by server-sent events, retries
with backoff on 429/5xx, time-outs). The API key is read from the environment variable the
settings name, when the client is made; it is never logged, stored, or put in a cache key,
and :attr:`EndpointModel.identity` holds only the endpoint's address and the model name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit, urlunsplit

from search.llm.base import GenerationOptions, LLMError, Message
from search.llm.deadline import Deadlines

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

#: The endpoint's deadlines (``search.llm.deadline``): text must begin within FIRST_TOKEN_S, a call
#: end within CALL_S, a whole summary (a finding per paper, then the overview) within SUMMARY_S.
#: Past one, the summary falls back to the abstracts' conclusions at once.
FIRST_TOKEN_S = 30.0
CALL_S = 90.0
SUMMARY_S = 180.0
#: The connection's own time-out (connect, and each read): it only ends a worker thread that
#: waits on a server that went silent after the deadline gave up on it.
TIMEOUT_S = CALL_S
DEADLINES = Deadlines(FIRST_TOKEN_S, CALL_S, SUMMARY_S)
#: Sent when no key is set: the client needs one, local servers accept any.
_NO_KEY = "no-key-set"


class EndpointModel:
    """A model served over the chat-completions protocol; thread-safe."""

    def __init__(self, url: str, model: str, *, api_key: str | None = None, key_env: str | None = None,
                 timeout_s: float = TIMEOUT_S, max_retries: int = 1,
                 deadlines: Deadlines = DEADLINES) -> None:
        try:
            import openai
        except ImportError:
            from search.llm.base import runtime_missing

            raise runtime_missing("OpenAI-compatible endpoint client (openai)", "endpoint") from None

        from ingest.redact import register_secret, register_url_password

        register_secret(api_key)  # an error body may repeat it: see ingest.redact
        register_url_password(url)
        self.url = url.rstrip("/")
        self.model = model
        self.key_env = key_env
        self.deadlines = deadlines
        self._client = openai.OpenAI(
            base_url=self.url, api_key=api_key or _NO_KEY, timeout=timeout_s, max_retries=max_retries,
        )

    def __repr__(self) -> str:  # never shows the key
        return f"EndpointModel(url={public_url(self.url)!r}, model={self.model!r})"

    @property
    def name(self) -> str:
        return f"{self.model} at {public_url(self.url)}"

    @property
    def identity(self) -> str:
        return f"openai-compatible:{public_url(self.url)}:{self.model}"

    @property
    def destination(self) -> str | None:
        """The endpoint's host, or None when it runs on this machine (loopback)."""
        host = urlsplit(self.url).hostname or ""
        return None if is_loopback(host) else host

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        import openai

        # each message's JSON is {"role": ..., "content": ...}: one of openai's message params
        chat = cast("list[ChatCompletionMessageParam]", [m.to_json() for m in messages])
        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=chat, stream=True,
                max_tokens=options.max_tokens, temperature=options.temperature, seed=0,
            )
            with response:
                for chunk in response:
                    for choice in chunk.choices or ():
                        if choice.delta and choice.delta.content:
                            yield choice.delta.content
        except openai.AuthenticationError as exc:
            raise LLMError(f"{public_url(self.url)} refused the API key (HTTP {exc.status_code}).",
                           hint=f"Put a valid key in the environment variable {self.key_env}.") from None
        except openai.NotFoundError:
            raise LLMError(f"{public_url(self.url)} does not serve the model {self.model!r} (HTTP 404).",
                           hint="Set MEDSEARCH_LLM_MODEL_NAME to a model it serves.") from None
        except openai.APIStatusError as exc:
            raise LLMError(f"{public_url(self.url)} answered HTTP {exc.status_code}: {_short(exc.message)}",
                           hint="Check the endpoint's logs, or unset MEDSEARCH_LLM_URL.") from None
        except openai.APIError as exc:
            raise LLMError(f"Cannot reach the chat endpoint {public_url(self.url)}: {_short(str(exc))}",
                           hint="Check MEDSEARCH_LLM_URL and that the server runs.") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # JSONDecodeError is a ValueError
            raise LLMError(f"{public_url(self.url)} sent a malformed answer ({type(exc).__name__}).",
                           hint="Check that MEDSEARCH_LLM_URL is an OpenAI-compatible chat-completions "
                           "endpoint.") from None


def public_url(url: str) -> str:
    """``url`` without user name, password, query or fragment: safe to show and to key a cache."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
