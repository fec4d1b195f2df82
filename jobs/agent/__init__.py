"""The framework LLM: a pydantic-ai agent behind the :class:`jobs.llm.FrameworkLLM` protocol.

``framework``  AgentLLM: runs chat turns (streamed) and examples through one agent per task
``output``     the structured output models the model must fill
``rules``      the output validators (whitelist, placeholder syntax, subject length, spam phrases)
``prompts``    instructions and the bounded per-turn context (recent window + running summary)
``pricing``    the per-model price table behind the estimated USD cost
``offline``    the deterministic built-in model (``LLM_MODEL=offline``), a pydantic-ai FunctionModel
"""

from jobs.agent.framework import AgentLLM

__all__ = ["AgentLLM"]
