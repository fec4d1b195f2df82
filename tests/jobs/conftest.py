"""Job and agent tests: real model requests are disabled. Models are pydantic-ai FunctionModels
(``tests.jobs.scripted``) or the built-in offline model: fakes only at the model-provider boundary."""

import pydantic_ai.models

pydantic_ai.models.ALLOW_MODEL_REQUESTS = False
