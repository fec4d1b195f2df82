"""The built-in ``offline`` framework model: deterministic, free, and used like any other model.

It is a pydantic-ai ``FunctionModel``: it reads the same prompt a hosted model reads (the JSON
context from ``jobs.agent.prompts``), answers by calling the output tool, streams its answer, and
reads the validators' feedback on a retry. Its behaviour follows the product protocol: clarifying
questions until audience, offer and call to action are known; then a skeleton and a draft using
only allowed variables; revisions on feedback. Each message is parsed into typed requests
(``jobs.agent.requests``) on top of the standing requests the context carries, the draft is
rendered from the brief and those requests (``offline_draft``), and the reply names what changed
from the diff of the old and new draft (``offline_reply``). Follow-up emails acknowledge the
earlier emails of the sequence. It exists so the service works without a key.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import fields
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel
from pydantic_ai.settings import ModelSettings

from jobs.agent.english import clean, clip, topic, with_article
from jobs.agent.offline_draft import DEFAULT_CTA, Written, subject_options, with_defaults, write
from jobs.agent.offline_reply import CAPABILITIES, changes, earlier_summary, said, why_unchanged
from jobs.agent.offline_writer import write_example
from jobs.agent.prompts import new_message, read_context
from jobs.agent.requests import Parsed, Standing, cta_phrase, parse, standing
from jobs.agent.rules import SPAN_RE, VAR_RE

STREAM_CHUNK = 48  # the reply streams in pieces this size (it becomes reply_delta events)
BULK_CHUNK = 400  # the skeleton and draft after it: no deltas come from them, so fewer, larger pieces


class OfflineModel(FunctionModel):
    """FunctionModel counts no input tokens on streamed requests; count them (one per word of every
    message part, as FunctionModel estimates its output), so usage is comparable across models."""

    @asynccontextmanager
    async def request_stream(
        self, messages: list[ModelMessage], model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters, run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        async with super().request_stream(messages, model_settings, model_request_parameters, run_context) as stream:
            stream.usage.input_tokens = input_tokens(messages)  # the stream's own usage record (a property)
            yield stream


def input_tokens(messages: list[ModelMessage]) -> int:
    """A rough token count of a request: the words of every text in it (instructions included)."""
    words = 0
    for message in messages:
        words += len(str(getattr(message, "instructions", None) or "").split())
        for part in message.parts:
            content = getattr(part, "content", None)
            words += len(content.split()) if isinstance(content, str) else len(str(content or "").split())
    return words


def offline_model() -> FunctionModel:
    return OfflineModel(_respond, stream_function=_stream, model_name="offline")


def _prompt(messages: list[ModelMessage]) -> str:
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                return part.content
    return ""


def _feedback(messages: list[ModelMessage]) -> list[str]:
    return [str(p.content) for m in messages for p in m.parts if getattr(p, "outcome", None) == "retried"]


def _args(messages: list[ModelMessage], info: AgentInfo) -> dict[str, Any]:
    prompt = _prompt(messages)
    context = read_context(prompt)
    schema = info.output_tools[0].parameters_json_schema
    if "reply" in schema.get("properties", {}):
        return answer_turn(context, new_message(prompt))
    return write_example(context, _feedback(messages))


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, _args(messages, info))])


OFF_LOOP_PROMPT_CHARS = 24_000  # a request this large is answered on a thread (see _stream)


async def _stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[dict[int, DeltaToolCall]]:
    name = info.output_tools[0].name
    # Answering reads the new message, the draft and the sequence, a few microseconds a character: a request
    # with a PATCHed 50,000-character draft or a long message is answered on a thread, so the other turns
    # sharing this event loop (and their lease renewals) are not held up; a usual one (~4-8 KB) costs less than
    # the hop.
    if len(_prompt(messages)) > OFF_LOOP_PROMPT_CHARS:
        args = await asyncio.to_thread(_args, messages, info)
    else:
        args = _args(messages, info)
    for i, piece in enumerate(pieces(args)):
        yield {0: DeltaToolCall(name=name if i == 0 else None, json_args=piece)}


def pieces(args: dict[str, Any]) -> list[str]:
    """The output tool call's arguments as JSON text, cut as the model streams them: the reply in
    ``STREAM_CHUNK`` pieces, what follows it in ``BULK_CHUNK`` pieces."""
    text = json.dumps(args, ensure_ascii=False)
    head = json.dumps({"reply": args["reply"]}, ensure_ascii=False)[:-1] if "reply" in args else ""
    if not text.startswith(head):
        head = text
    cut = [head[i:i + STREAM_CHUNK] for i in range(0, len(head), STREAM_CHUNK)]
    return cut + [text[i:i + BULK_CHUNK] for i in range(len(head), len(text), BULK_CHUNK)]


def _user_texts(context: dict[str, Any], message: str) -> list[str]:
    asks = [s.removeprefix("user asked: ") for s in context.get("summary_of_earlier_conversation") or []]
    recent = [m["content"] for m in context.get("recent_messages") or [] if m.get("role") == "user"]
    return [*asks, *recent, message]


def _questions(state: Standing) -> str:
    known = []
    if state.audience:
        known.append(f"the email is for {state.audience}")
    if state.offer:
        known.append(f"you offer {state.offer}")
    asks = {
        "audience": "Who exactly is the reader (role, seniority, kind of company)?",
        "offer": "What do you sell, and what result does it get them?",
        "cta": "What should the reader do next: book a call, a demo, start a trial, or reply?",
    }
    intro = f"Got it: {' and '.join(known)}. " if known else "Happy to help. "
    return intro + "Before I draft anything, a few questions:\n" + "\n".join(
        f"{i}. {asks[m]}" for i, m in enumerate(_missing(state), 1))


def _missing(state: Standing) -> list[str]:
    return [name for name in ("audience", "offer", "cta") if getattr(state, name) is None]


_ASK_FOR = re.compile(r"^Ask for an? (?P<cta>.+)$")
_LINK = re.compile(r"\((?P<url>https?://[^)\s]+)\)")


def from_skeleton(skeleton: dict[str, Any] | None) -> Standing:
    """The brief a stored skeleton states (audience, offer, call to action, proof points, focus)."""
    if not skeleton:
        return Standing()
    cta_plan = str((skeleton.get("cta") or {}).get("strategy") or "")
    proof = str((skeleton.get("proof") or {}).get("strategy") or "")
    value = str((skeleton.get("value_prop") or {}).get("strategy") or "")
    asked = _ASK_FOR.match(cta_plan)
    link = _LINK.search(cta_plan)
    if asked:
        cta: str | None = asked.group("cta")
    elif cta_plan.startswith("Point them to the booking link"):
        cta = "link"
    else:
        cta = cta_phrase(cta_plan)
    focus = value.split(", focused on ", 1)[1] if ", focused on " in value else None
    return Standing(audience=skeleton.get("audience") or None, offer=skeleton.get("offer") or None, cta=cta,
                    link=link.group("url") if link else None, focus=focus,
                    mentions=tuple(m for m in proof.removeprefix("Cite: ").split("; ") if m)
                    if proof.startswith("Cite: ") else (),
                    removed=("proof",) if proof == "No proof point" else ())


def merge(base: Standing, earlier: Standing) -> Standing:
    """The skeleton's brief, overridden by whatever the conversation's standing requests set."""
    values = {}
    for f in fields(Standing):
        mine = getattr(earlier, f.name)
        values[f.name] = mine if mine != f.default else getattr(base, f.name)
    if "proof" in earlier.removed or earlier.mentions:
        values["mentions"] = earlier.mentions
    return Standing(**values)


_ONE_EMAIL = ("a session drafts one email of the sequence, and this one is now written as a follow-up; to keep the "
              "first email as it was, say \u201cthis is not a follow-up\u201d here and open a session on the follow-up's "
              "own node instead (its sequenceContext names the emails before it)")


def _follow_up(sequence: dict[str, Any] | None, allowed: set[str]) -> tuple[str | None, str]:
    """(how the skeleton names the earlier email, the sentence the reply uses) for a follow-up node."""
    if not sequence or not sequence.get("position") or not sequence.get("prior_nodes"):
        return None, ""
    prior = sequence["prior_nodes"]
    last = prior[-1]
    subject = str(last.get("subject") or "").strip()
    step = f"email {len(prior)}" + (f" ('{clean(subject)}')" if subject else "")
    total = sequence.get("total_nodes")
    where = f"email {sequence['position'] + 1}" + (f" of {total}" if total else "")
    quoted = clean(subject, keep=allowed, spam=False)
    said = f"This is {where} in the sequence, so it follows up on your earlier email" + (
        f" \"{quoted}\"" if subject else "") + f" ({len(prior)} before it) instead of repeating it. "
    return step, said


def _cta_words(state: Standing) -> str:
    cta = state.cta or DEFAULT_CTA
    if cta == "reply":
        return "a reply"
    if cta == "link":
        return "a click on your booking link"
    return with_article(cta)


def _list(items: list[str]) -> str:
    return "; ".join(items)


def _stop(text: str) -> str:
    """``text`` ending with one full stop ("a P.S." stays "a P.S.")."""
    return text if text.endswith((".", "?", "!")) else text + "."


def _first_reply(state: Standing, written: Written, said: str, assumptions: list[str]) -> str:
    assumed = f" I assumed {'; '.join(assumptions)} (tell me if that is wrong)." if assumptions else ""
    applied = earlier_summary(state)
    applied_text = " " + _stop(f"I applied what you asked: {_list(applied)}") if applied else ""
    about = topic(state.offer or "") or "your offer"
    notes = " " + _stop(f"Note: {_list([text for _, _, text in written.notes])}") if written.notes else ""
    return (f"{said}Here is a first skeleton and draft.{assumed} The plan: {about} for {state.audience}, asking for "
            f"{_cta_words(state)}.{applied_text}{notes} Tell me what to change: the tone, the length, the opener, "
            "the subject, the proof, the sign-off or the call to action.")


def _feedback_reply(before: Standing, state: Standing, parsed: Parsed, diff: list[str], written: Written,
                    message: str, allowed: set[str]) -> str:
    lines: list[str] = []
    noted = {(kind, key): text for kind, key, text in written.notes}
    kept, new, unchanged, explained, step = [], [], [], [], before
    for request in parsed.requests:
        after = step.apply([request])
        if after == step and request.kind not in _NEVER_IN_PLACE:
            # a variable this campaign does not allow is not "already in place": the note on such variables
            # says why; "it feels generic, personalize it more" is one request said twice, named once
            refused = request.kind == "variable" and request.value.strip("%") not in allowed
            if not refused and said(request) not in new:
                kept.append(said(request))
        else:
            new.append(said(request))
            note = noted.pop((request.kind, _note_key(request.value)), None)
            unchanged.append(note or why_unchanged(request, written.body))
            if note:
                explained.append(note)
        step = after
    if diff:
        if new:
            lines.append(_stop(f"You asked for: {_list(new)}"))
        lines.append("Changed:\n" + "\n".join(f"- {d}" for d in diff))
    elif new:
        lines.append(_stop("Nothing changed in the skeleton or the draft: " + _list(unchanged)))
    else:
        lines.append("Nothing changed in the skeleton or the draft.")
    if kept:
        lines.append(_stop(f"Already in place: {_list(kept)}"))
    if not parsed.requests:
        quoted = clip(clean(message, keep=allowed, spam=False), 80)
        lines.append(f"I did not understand what to change from \u201c{quoted}\u201d. I can change: "
                     f"{_list(list(CAPABILITIES))}.")
    elif parsed.unmatched:
        lines.append(f"I did not act on \u201c{clean(parsed.unmatched, keep=allowed, spam=False)}\u201d; "
                     f"I can change: {_list(list(CAPABILITIES))}.")
    asked = {(r.kind, _note_key(r.value)) for r in parsed.requests}
    # a limit missed, or bullets asked earlier that this draft cannot use, is said whenever it holds
    notes = [text for (kind, key), text in noted.items() if kind in ("max_words", "bullets") or (kind, key) in asked]
    if not diff and unchanged:
        notes = [n for n in notes if n not in unchanged]
    elif diff:  # what a request that did not show in the draft says about itself, beside the others' changes
        notes = explained + [n for n in notes if n not in explained]
    notes += [n for n in _unknown_variables(parsed, allowed) if n not in notes]
    if notes:
        lines.append(_stop(f"Note: {_list(notes)}"))
    earlier = [item for item in earlier_summary(before) if item in earlier_summary(state)]
    if earlier and (diff or parsed.requests):
        lines.append(_stop(f"Still applied from earlier turns: {_list(earlier)}"))
    return "\n".join(lines)


def _unknown_variables(parsed: Parsed, allowed: set[str]) -> list[str]:
    """What to say about %variables% the user's requests named that this campaign does not allow: the
    draft writes them as plain words (or leaves them out), which should not go unsaid. The subject's own
    requests say it themselves (``offline_draft._subject``)."""
    names: list[str] = []
    for request in parsed.requests:
        if request.kind in ("subject_include", "subject_exclude", "remove"):
            continue
        names += [m.group(1) for m in VAR_RE.finditer(request.said) if m.group(1) not in allowed]
        if request.kind == "variable" and request.value.strip("%") not in allowed:  # "their company name"
            names.append(request.value.strip("%"))
    unique = list(dict.fromkeys(names))
    if not unique:
        return []
    spoken = [n.replace("_", " ") for n in unique]
    words = spoken[0] if len(spoken) == 1 else f"{', '.join(spoken[:-1])} and {spoken[-1]}"
    usable = ", ".join(f"%{n}%" for n in sorted(allowed)) or "none"
    return [f"{words} {'is not an allowed variable' if len(unique) == 1 else 'are not allowed variables'} in this "
            f"campaign, so the draft does not use {'it' if len(unique) == 1 else 'them'} (allowed: {usable})"]


# Requests answered whatever stands, so never "already in place": subject options are listed in the reply; a
# different angle on an opener of the user's own says why it is left.
_NEVER_IN_PLACE = frozenset({"subject_options", "angle"})


def _options_note(options: list[str], subject: str) -> str:
    if not options:
        return f"the subject \u201c{subject}\u201d is the only one this brief gives; tell me what it should say"
    listed = "; ".join(f"{i}. \u201c{option}\u201d" for i, option in enumerate(options, 1))
    return (f"other subject lines to choose from: {listed}. The draft keeps \u201c{subject}\u201d; to use one, say "
            "subject: followed by it in quotes")


def _note_key(value: Any) -> str:
    return str(value[0]) if isinstance(value, tuple) else str(value)


def safe_reply(text: str, allowed: set[str]) -> str:
    """The reply as the rules accept it: user words it quotes may hold a variable that is not allowed
    ("%ssn%" becomes "ssn"), a stray % or a lone && (the draft itself never does)."""
    if "%" in text:
        text = VAR_RE.sub(lambda m: m.group(0) if m.group(1) in allowed else m.group(1).replace("_", " "), text)
        kept = VAR_RE.findall(text)
        text = VAR_RE.sub("\x00", text)
        text = re.sub(r"\s*(?<!\d)%", " percent", text)
        for name in kept:
            text = text.replace("\x00", f"%{name}%", 1)
    if text.count("&&") % 2 or any(not span.strip() for span in SPAN_RE.findall(text)):
        text = text.replace("&&", " ")
    return text


def answer_turn(context: dict[str, Any], message: str) -> dict[str, Any]:
    """The offline model's answer to one chat turn, as output-tool arguments."""
    out = _answer_turn(context, message)
    out["reply"] = safe_reply(out["reply"], set(context.get("allowed_variables") or []))
    return out


def _answer_turn(context: dict[str, Any], message: str) -> dict[str, Any]:
    allowed = list(context.get("allowed_variables") or [])
    names = set(allowed)
    current = context.get("current_skeleton")
    draft = context.get("current_draft") or {}
    texts = _user_texts(context, message)
    if "standing_requests" in context:
        earlier = Standing.from_lines(context.get("standing_requests") or [])
    else:  # a context without the field: read the asks it carries
        earlier = standing(texts[:-1])
    before = merge(from_skeleton(current), earlier)
    parsed = parse(message)
    state = before.apply(parsed.requests)
    assumptions: list[str] = []
    if _missing(state):
        if len(texts) == 1:
            return {"reply": _questions(state)}
        # One round of questions is enough: fill the gaps with defaults and say so.
        state, assumptions = with_defaults(state, texts[0])
    follow_up, said_follow_up = _follow_up(context.get("sequence"), names)
    asked_follow_up = follow_up is None and state.follow_up  # on a session with no earlier email in its context
    if asked_follow_up:
        follow_up = "the earlier email"
        said_follow_up = "You asked for a follow-up, so it follows up on an earlier email instead of repeating it. "
    written = write(state, allowed, follow_up)
    if asked_follow_up and current is not None and any(r.kind == "follow_up" for r in parsed.requests):
        written.notes.append(("follow_up", "True", _ONE_EMAIL))
    for request in parsed.requests:
        if request.kind == "subject_options":
            written.notes.append(("subject_options", str(request.value),
                                  _options_note(subject_options(state, allowed, follow_up is not None, request.value),
                                                written.subject)))
    if current is None:
        reply = _first_reply(state, written, said_follow_up, assumptions)
    else:
        diff = changes(current, written.skeleton, draft.get("subject"), written.subject, draft.get("body"),
                       written.body)
        reply = _feedback_reply(before, state, parsed, diff, written, message, names)
    return {"reply": reply, "skeleton": written.skeleton, "draft_subject": written.subject, "draft_body": written.body}
