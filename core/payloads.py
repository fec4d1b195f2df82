"""Typed payloads shared by the API, the bridge and the jobs.

Request bodies are decoded straight into these strict msgspec structs; the constraints here mirror
``contracts/openapi.yaml`` (a test holds the two together). A task payload is what every launcher
(inline, ARQ, Trigger.dev) hands to the one job entry point, so a turn cannot depend on where it runs.
"""

from __future__ import annotations

import re
from itertools import accumulate, count
from operator import sub
from typing import Annotated, Any, Literal

import msgspec

from core import limits

UUID_PATTERN = (
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$"
)
VAR_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


def python_pattern(ecma: str) -> str:
    """The contract's ECMA regexes end with ``$``; in Python that also matches before a final newline."""
    return ecma[:-1] + r"\Z" if ecma.endswith("$") else ecma


UUID_RE = python_pattern(UUID_PATTERN)
MAX_SAFE_INT = 9_007_199_254_740_991

MAX_MESSAGE_CHARS = 8_000
MAX_VAR_NAMES = 100
MAX_SAMPLE_LEADS = 25
MAX_EXAMPLE_LEADS = 50
MAX_PRIOR_NODES = 50
MAX_CUSTOM_FIELDS = 50
DEFAULT_LIST_LIMIT = 50  # sessions per page of GET …?campaign_id=
MAX_LIST_LIMIT = 200
# How deeply arrays and objects may nest in a request body (the body itself is level 1). Deeper is
# refused before decoding: a decoder (and every encoder after it) recurses once per level.
MAX_JSON_DEPTH = 64

Uuid = Annotated[str, msgspec.Meta(pattern=UUID_RE)]
# JSON Schema's `integer` also admits 3.0; accept an integral float and store it as an int.
NonNegInt = Annotated[int, msgspec.Meta(ge=0, le=MAX_SAFE_INT)] | Annotated[float, msgspec.Meta(ge=0, le=MAX_SAFE_INT)]


# A string, or one that never closes (to the end, a last lone backslash included): possessive, so a match that
# has started never fails and gives its text back. The earlier form failed on an unterminated string and was
# tried again at every quote inside it, the square of the body's length ("[" * 65 + a quote + "\\\"" * 65,536:
# 36 s for 128 KB).
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # opener +1, closer -1 (after subtracting 1)


def nests_deeper_than(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``raw`` nests arrays/objects more than ``limit`` levels deep.

    Counting brackets is enough for almost every body (it cannot nest deeper than it has openers);
    otherwise strings are cut out and the running depth is summed in C (itertools), never a Python loop
    per byte. Malformed JSON gets some answer here and its real error from the decoder."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    steps = _JSON_STRING.sub(b"", raw).translate(_BRACKET_STEP, _NOT_BRACKETS)
    # depth after byte i = sum(step) - (i + 1): steps are 2 for an opener and 0 for a closer.
    return max(map(sub, accumulate(steps), count(1)), default=0) > limit


def _integral(struct: msgspec.Struct, *names: str) -> None:
    for name in names:
        value = getattr(struct, name)
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"`{name}` must be an integer, got {value}")
            msgspec.structs.force_setattr(struct, name, int(value))
ShortText = Annotated[str, msgspec.Meta(max_length=1_000)]
VarName = Annotated[str, msgspec.Meta(pattern=python_pattern(VAR_NAME_PATTERN))]
Message = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MESSAGE_CHARS)]
VarNames = Annotated[list[VarName], msgspec.Meta(max_length=MAX_VAR_NAMES)]
FreeObject = dict[str, Any]

TaskName = Literal["framework-chat-turn", "generate-email-examples"]
TaskStatus = Literal["chat_processing", "generating_examples"]
TASK_STATUS_FOR: dict[str, str] = {
    "framework-chat-turn": "chat_processing",
    "generate-email-examples": "generating_examples",
}


class Lead(msgspec.Struct, frozen=True, omit_defaults=True):
    """A campaign lead. Extra keys (a full prospect row, say) are accepted and ignored on purpose."""

    id: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    lead_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    full_name: ShortText | None = None
    email: ShortText | None = None
    company: ShortText | None = None
    position: ShortText | None = None
    headline: ShortText | None = None
    linkedin_url: ShortText | None = None
    custom_fields: Annotated[FreeObject, msgspec.Meta(max_length=MAX_CUSTOM_FIELDS)] | None = None

    @property
    def identity(self) -> str | None:
        return self.lead_id or self.id


class SequenceContext(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    position: NonNegInt | None = None
    total_nodes: NonNegInt | None = None
    prior_nodes: Annotated[list[FreeObject], msgspec.Meta(max_length=MAX_PRIOR_NODES)] | None = None

    def __post_init__(self) -> None:
        _integral(self, "position", "total_nodes")


class TurnInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Body of ``POST …/{id}/turn``."""

    message: Message
    availableVarNames: VarNames | None = None  # None (absent or null): the session's remembered whitelist
    sampleLeads: Annotated[list[Lead], msgspec.Meta(max_length=MAX_SAMPLE_LEADS)] | None = None
    sequenceContext: SequenceContext | None = None  # None: the session's remembered one


class ExamplesInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Body of ``POST …/{id}/generate-examples``."""

    leads: Annotated[list[Lead], msgspec.Meta(min_length=1, max_length=MAX_EXAMPLE_LEADS)]
    sequenceContext: SequenceContext | None = None
    isFirstBatch: bool = False


class CreateSessionInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    campaign_id: Uuid
    node_id: Uuid
    title: Annotated[str, msgspec.Meta(max_length=200)] | None = None

    def __post_init__(self) -> None:
        # UUIDs are case-insensitive: stored in lower case, so any spelling finds the same campaign.
        msgspec.structs.force_setattr(self, "campaign_id", self.campaign_id.lower())
        msgspec.structs.force_setattr(self, "node_id", self.node_id.lower())


class ChatMessage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    role: Literal["user", "assistant"]
    content: Annotated[str, msgspec.Meta(max_length=limits.MAX_STORED_MESSAGE_CHARS)]


_UNSET: Any = msgspec.UNSET


class PatchSessionInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of PATCH: only keys present are written (``UNSET`` marks an absent key)."""

    # Counts as stored (core.limits); free-form sizes are checked by limits.check_session_fields.
    messages: Annotated[list[ChatMessage], msgspec.Meta(max_length=limits.MAX_MESSAGES)] | None | msgspec.UnsetType = _UNSET
    title: Annotated[str, msgspec.Meta(max_length=200)] | None | msgspec.UnsetType = _UNSET
    draft_subject: Annotated[str, msgspec.Meta(max_length=1_000)] | None | msgspec.UnsetType = _UNSET
    draft_body: Annotated[str, msgspec.Meta(max_length=limits.MAX_DRAFT_BODY_CHARS)] | None | msgspec.UnsetType = _UNSET
    skeleton: FreeObject | None | msgspec.UnsetType = _UNSET
    skeleton_history: (
        Annotated[list[FreeObject], msgspec.Meta(max_length=limits.MAX_SKELETON_HISTORY)] | None | msgspec.UnsetType
    ) = _UNSET
    draft_history: (
        Annotated[list[FreeObject], msgspec.Meta(max_length=limits.MAX_DRAFT_HISTORY)] | None | msgspec.UnsetType
    ) = _UNSET
    framework_version: (
        Annotated[int, msgspec.Meta(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)]
        | Annotated[float, msgspec.Meta(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)]
        | None
        | msgspec.UnsetType
    ) = _UNSET
    generated_examples: (
        Annotated[list[FreeObject], msgspec.Meta(max_length=limits.MAX_GENERATED_EXAMPLES)] | None | msgspec.UnsetType
    ) = _UNSET
    task_status: TaskStatus | None | msgspec.UnsetType = _UNSET

    def __post_init__(self) -> None:
        if self.framework_version is not msgspec.UNSET:
            _integral(self, "framework_version")

    def present(self) -> dict[str, Any]:
        """The fields the client sent, as plain JSON-ready values."""
        out: dict[str, Any] = {}
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is not msgspec.UNSET:
                out[name] = msgspec.to_builtins(value)
        return out


# The task payload's schema version. Bump it whenever a job of the previous release could misread a
# payload of this one (a new required meaning, a changed field); the API and the Trigger.dev bundle
# are deployed separately, and a job refuses a payload newer than it understands (jobs.execute).
PAYLOAD_SCHEMA_VERSION = 1


class ChatTurnPayload(msgspec.Struct, frozen=True, tag="framework-chat-turn", tag_field="task"):
    """What a launcher hands the job for one chat turn."""

    run_id: str
    session_id: str
    user_id: str
    input: TurnInput
    trace: dict[str, str] | None = None
    schema_version: int = PAYLOAD_SCHEMA_VERSION
    request_id: str | None = None  # the request that dispatched it: the job's log lines carry it too


class ExamplesPayload(msgspec.Struct, frozen=True, tag="generate-email-examples", tag_field="task"):
    """What a launcher hands the job for one example-generation run."""

    run_id: str
    session_id: str
    user_id: str
    input: ExamplesInput
    trace: dict[str, str] | None = None
    schema_version: int = PAYLOAD_SCHEMA_VERSION
    request_id: str | None = None


class PayloadEnvelope(msgspec.Struct, frozen=True):
    """The part of any task payload, of any schema version, that names its run and session.

    Decoded leniently first, so a payload this job cannot read still lets it fail the run and
    release the session's claim instead of leaving the session busy until the lease ends."""

    run_id: str
    session_id: str
    task: str = ""
    schema_version: int = 1


TaskPayload = ChatTurnPayload | ExamplesPayload

_payload_decoder = msgspec.json.Decoder(TaskPayload)
_payload_convert_type: Any = TaskPayload


def decode_payload(data: bytes | str) -> TaskPayload:
    return _payload_decoder.decode(data)


def payload_from_builtins(obj: Any) -> TaskPayload:
    """Rebuild a payload from plain JSON values (what ARQ and Trigger.dev hand back)."""
    return msgspec.convert(obj, _payload_convert_type)


def task_name(payload: TaskPayload) -> str:
    return type(payload).__struct_config__.tag  # type: ignore[return-value]
