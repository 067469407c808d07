"""Asking for a person, learnt: a bot that gives `handoff.examples` (and routes `semantic`)
has a built-in `handoff` flow in its router, learnt from these messages and the bot's own.

The built-in phrases (chinwag.handoff.asking) catch the common requests exactly, before any
model runs; the learnt flow catches the shop's visitors' own ways of asking."""

from __future__ import annotations

from chinwag.config.bot import BotConfig

HANDOFF_FLOW = "handoff"

# Requests for a person in English and Norwegian, as visitors write them; a bot's examples
# add its own. Learnt against `main`'s examples and the router's general questions.
BUILT_IN_EXAMPLES: tuple[str, ...] = (
    "Can I talk to a human?",
    "I want to speak to a real person",
    "Let me chat with someone from the shop",
    "Is there a person I can talk to?",
    "Please connect me with customer service",
    "I'd rather talk to an employee",
    "Get me a human please",
    "Transfer me to an agent",
    "I need help from a real person, not a bot",
    "Can someone from your staff answer me?",
    "Could a member of staff help me?",
    "I want a human to look at this",
    "Kan jeg snakke med et menneske?",
    "Jeg vil prate med en ekte person",
    "Kan jeg få hjelp av en ansatt?",
    "Sett meg over til kundeservice",
    "Jeg vil heller snakke med noen i butikken",
    "Finnes det en person jeg kan chatte med?",
    "Kan noen fra dere svare meg?",
    "Jeg trenger hjelp fra et menneske, ikke en robot",
)


# Messages about people, or about talking, that ask for nobody: learnt as `main`'s, so that
# the `handoff` flow tells a request for a person from a question that merely mentions one.
BUILT_IN_COUNTER_EXAMPLES: tuple[str, ...] = (
    "Are you a real person or a bot?",
    "Is this an AI?",
    "How many employees do you have?",
    "Who owns the shop?",
    "What does your sommelier recommend with fish?",
    "A present for a person who loves champagne",
    "Can I collect the wine in the shop myself?",
    "Do you speak Swedish?",
    "Can we chat about dessert wines?",
    "Can I talk to you about port wine?",
    "What is your phone number?",
    "Thanks for the help!",
    "My name is Ola",
    "Tell me about the people who make this wine",
    "Er du en robot?",
    "Er dette en ekte person?",
    "Hvor mange jobber i butikken?",
    "Hva anbefaler sommelieren til fisk?",
    "En gave til en som liker musserende",
    "Kan jeg hente vinen selv i butikken?",
    "Snakker du svensk?",
    "Kan vi prate om dessertviner?",
    "Kan jeg snakke med deg om champagne?",
    "Hva er telefonnummeret deres?",
    "Takk for hjelpen!",
    "Jeg heter Ola",
    "Jeg vil bestille en kasse rødvin",
    "Kan jeg avbestille ordren min?",
)


def learns_handoff(bot: BotConfig) -> bool:
    """Whether the bot's router learns asking for a person from examples."""
    return bot.handoff.enabled and bool(bot.handoff.examples) and bot.router.strategy == "semantic"


def handoff_examples(bot: BotConfig) -> list[str]:
    """What the `handoff` flow is learnt from: the built-in messages, then the bot's."""
    return [*BUILT_IN_EXAMPLES, *bot.handoff.examples]
