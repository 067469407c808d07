"""Benchmark the embedded models on the Vinhuset demo bot: speed on this CPU, and the answers.

Run: .venv/bin/python bench/local_models.py [--threads 2] [--rounds 3] [--data-dir DIR]
Prints markdown: a summary table, a per-prompt table and every answer, so a human can judge them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import get_args

import yaml
from result_files import copy_stdout_to, result_path

from chinwag.providers.llm.local import LocalChatModel
from chinwag.providers.protocols import ChatMessage, GenerationOptions, Usage
from chinwag.settings import LocalModelName

BOT = Path(__file__).resolve().parents[1] / "src/chinwag/bots/demo/vinhuset.yaml"
PROMPTS = [
    "Which wine goes with salmon?",
    "When are you open on Saturday?",
    "Are you open on Sunday?",
    "Do you deliver to Oslo?",
    "Is delivery free if I order wine for 1000 NOK?",
    "Hva koster frakt?",
    "Når åpner dere på lørdag?",
    "Can you recommend a red wine under 200 NOK for a dinner party?",
]
OPTIONS = GenerationOptions(temperature=0.2, max_tokens=96)


@dataclass
class Run:
    prompt: str
    answer: str
    ttft: float  # seconds from the call to the first text delta
    total: float  # seconds from the call to the usage
    usage: Usage

    @property
    def decode_rate(self) -> float:
        """Generated tokens per second after the first one."""
        decoding = self.total - self.ttft
        return (self.usage.completion_tokens - 1) / decoding if decoding > 0 else 0.0


async def ask(model: LocalChatModel, system: str, prompt: str) -> Run:
    """Send one fresh conversation (system + user) and time it."""
    messages = [ChatMessage("system", system), ChatMessage("user", prompt)]
    parts: list[str] = []
    started = time.perf_counter()
    ttft = 0.0
    usage = Usage.of(0, 0)
    async for item in model.stream(messages, OPTIONS):
        if isinstance(item, Usage):
            usage = item
        else:
            ttft = ttft or time.perf_counter() - started
            parts.append(item)
    total = time.perf_counter() - started
    return Run(prompt, "".join(parts), ttft or total, total, usage)


async def bench(
    name: LocalModelName, threads: int, data_dir: Path, system: str, rounds: int
) -> None:
    """Load one model, ask every prompt, `rounds` times; print its tables and answers."""
    loads: list[float] = []
    tries: dict[str, list[Run]] = {prompt: [] for prompt in PROMPTS}
    for _ in range(rounds):  # a fresh model each round: its load and cold TTFT count too
        model = LocalChatModel(name, threads=threads, data_dir=data_dir)
        started = time.perf_counter()
        await model.load()
        loads.append(time.perf_counter() - started)
        for prompt in PROMPTS:
            tries[prompt].append(await ask(model, system, prompt))
        await model.aclose()

    load, cold = min(loads), min(r.ttft for r in tries[PROMPTS[0]])
    firsts = [runs[0] for runs in tries.values()]
    ttfts = [min(r.ttft for r in runs) for runs in tries.values()]
    rates = [max(r.decode_rate for r in runs) for runs in tries.values()]
    overall = [max(r.usage.completion_tokens / r.total for r in runs) for runs in tries.values()]
    tokens = sum(r.usage.completion_tokens for r in firsts)
    print(f"## {name}\n")
    print("| load s | cold TTFT ms | warm TTFT ms | decode tok/s | end-to-end tok/s | tokens |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {load:.2f} | {cold * 1000:.0f} | {statistics.median(ttfts[1:]) * 1000:.0f} "
        f"| {statistics.median(rates):.1f} | {statistics.median(overall):.1f} | {tokens} |\n"
    )
    print("| prompt | prompt tok | TTFT ms | decode tok/s | round-1 answer tok | round-1 s |")
    print("|---|---:|---:|---:|---:|---:|")
    for r, ttft, rate in zip(firsts, ttfts, rates, strict=True):
        print(
            f"| {r.prompt} | {r.usage.prompt_tokens} | {ttft * 1000:.0f} | {rate:.1f} "
            f"| {r.usage.completion_tokens} | {r.total:.2f} |"
        )
    same = all(len({r.answer for r in runs}) == 1 for runs in tries.values())
    print(f"\n### Answers (identical in every round: {'yes' if same else 'no'})\n")
    for r in firsts:
        print(f"**{r.prompt}**\n\n```text\n{r.answer.strip()}\n```\n")


async def main() -> None:
    """Parse the arguments and benchmark each model in turn."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=Path(".chinwag"))
    parser.add_argument("--models", nargs="+", default=list(get_args(LocalModelName)))
    parser.add_argument("--rounds", type=int, default=3, help="speed: best of this many")
    parser.add_argument(
        "--out",
        type=Path,
        default=result_path("local-models", "md"),
        help="also write what is printed here; default bench/results/local-models-<stamp>.md",
    )
    args = parser.parse_args()
    copy_stdout_to(args.out)
    system = yaml.safe_load(BOT.read_text(encoding="utf-8"))["flows"]["main"]["system"]
    print("# Embedded models on the Vinhuset demo bot\n")
    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"threads={args.threads}; llama-cpp-python {version('llama-cpp-python')}; "
        f"temperature={OPTIONS.temperature}, max_tokens={OPTIONS.max_tokens}; "
        f"one fresh conversation (system + user) per prompt; load average at the start: "
        f"{os.getloadavg()[0]:.2f}.\n\n"
        f"Each round loads the model afresh and asks every prompt once; speeds are the best of "
        f"{args.rounds} rounds (the CPU is shared). Cold TTFT: the first prompt, whose system "
        "prompt llama.cpp has not cached yet; warm TTFT: median of the others. tok/s are medians "
        "over the prompts (end-to-end: answer tokens / whole call). Answers, their token "
        "counts and times are round 1's.\n"
    )
    for name in args.models:
        await bench(name, args.threads, args.data_dir, system, args.rounds)
    print("Load average (1/5/15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    asyncio.run(main())
