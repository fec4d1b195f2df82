"""The framework LLM: a pydantic-ai agent behind the :class:`jobs.llm.FrameworkLLM` protocol.

``framework``      AgentLLM: runs chat turns (streamed) and examples through one agent per task
``output``         the structured output models the model must fill
``rules``          the output validators (whitelist, placeholder syntax, subject length, spam phrases), every
                   text field, read through ``core.text.normalize``
``prompts``        instructions and the bounded per-turn context (recent window + running summary + the
                   standing requests)
``requests``       user messages as typed requests, accumulated into the standing requests
``pricing``        the per-model price table behind the estimated USD cost
``offline``        the deterministic built-in model (``LLM_MODEL=offline``), a pydantic-ai FunctionModel:
``offline_draft``  renders its skeleton and draft from the brief and the standing requests,
``offline_reply``  describes what changed from the diff of the old and new draft,
``offline_writer`` writes one lead's example from the draft template,
``english``        with shared grammar helpers (articles, possessives, offer sentences)
"""

from jobs.agent.framework import AgentLLM

__all__ = ["AgentLLM"]
