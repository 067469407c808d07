"""`chinwag init`: the files of a starter bot a new owner edits (YAML, a prompt, a document)."""

from __future__ import annotations

from pathlib import Path

BOT_YAML = """\
# A starter bot written by `chinwag init`. Edit it, then, from this directory:
#   chinwag validate {file}                 # every problem at once
#   chinwag ingest {file} knowledge/        # index the documents the bot may cite
#   chinwag bots import {file}              # save it in the database
#   chinwag serve                           # and talk to it: chinwag chat {id}
# Every key: docs/configuration.md. Flows and routing: docs/bots.md.
id: {id}
name: {name}
# Keep the last few turns of a conversation as context.
history_turns: 6
# The documents under knowledge/ (Markdown, text, HTML, PDF, CSV), searched per message.
knowledge:
  store: lancedb
  index: {id}
  mode: hybrid
  top_k: 4
# The semantic router adds an optional flow when a message is closer to that flow's examples
# than to main's; `main` always answers.
router:
  strategy: semantic
# Grounded: a message outside your business, or one your documents do not answer, gets a short
# decline instead of an invented answer (docs/answers.md). Write how to reach you here.
policy:
  mode: grounded
  unanswerable:
    en: "Sorry, I don't know that. Write to us at hello@example.com and we will answer."
flows:
  main:
    system: {{file: prompts/main.system.j2}}
    template: "{{{{ message }}}}"
    # Messages main answers alone (write ten or more in your customers' words).
    examples:
      - "When are you open?"
      - "Where are you?"
      - "How do I contact you?"
      - "Do you deliver?"
      - "Can I return something I bought?"
      - "How do I pay?"
      - "What do you sell?"
      - "Can I book an appointment?"
  smalltalk:
    description: Greetings, thanks, goodbyes and chit-chat with no question about the business.
    examples:
      - "Hi there!"
      - "Good morning"
      - "Hello, anyone there?"
      - "Thanks a lot!"
      - "Thank you, that helped"
      - "How are you today?"
      - "Have a nice day"
      - "Bye!"
      - "Tell me a joke"
      - "Nice talking to you"
    system: You are the friendly assistant of {name}.
    template: |
      The customer wrote: "{{{{ message }}}}"
      Write one short, warm line of small talk in reply, in the customer's language.
    timeout_seconds: 10
"""

MAIN_PROMPT = """\
You are the assistant of {name}. Be friendly and brief: two to four sentences.
Answer in the language the customer writes in. Today is {{{{ now.strftime('%A %d %B %Y') }}}}.
Use only the facts below and in the notes; if they do not answer the question, say so and
suggest how to reach a person.
{{%- if flows.smalltalk is defined %}}

A friendly line you may open with: {{{{ flows.smalltalk.output }}}}
{{%- endif %}}
{{%- if sources %}}

Notes from {name}'s documents (the first is the most relevant):{{% for s in sources %}}
- {{{{ s.title }}}}: {{{{ s.text }}}}{{% endfor %}}
{{%- endif %}}
"""

WELCOME_DOC = """\
# About {name}

Replace this file with your own documents: opening hours, prices, policies, FAQs.

## Opening hours
Monday to Friday 09:00-17:00. Closed on weekends.

## Contact
Write to us at hello@example.com; we answer within one working day.
"""


def starter_files(bot_id: str, name: str, file: str = "bot.yaml") -> dict[str, str]:
    """Relative path -> text of every file of the starter bot."""
    values = {"id": bot_id, "name": name, "file": file}
    return {
        file: BOT_YAML.format(**values),
        "prompts/main.system.j2": MAIN_PROMPT.format(**values),
        "knowledge/welcome.md": WELCOME_DOC.format(**values),
    }


def write_starter(directory: Path, bot_id: str, name: str, *, force: bool = False) -> list[Path]:
    """Write the starter files under `directory`; FileExistsError unless `force`."""
    files = {directory / rel: text for rel, text in starter_files(bot_id, name).items()}
    existing = [path for path in files if path.exists()]
    if existing and not force:
        raise FileExistsError(", ".join(str(p) for p in existing))
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
