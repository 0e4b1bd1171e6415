"""The official `openai` Python package against a running blendlab server, unchanged.

Run by `tests/api/openai_clients.rs` with the server's base URL and admin token; the experiment
`chai-blend` is running. Every check raises on failure, so a non-zero exit fails the Rust test.
"""

import sys
import uuid

import openai

base_url, api_key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=120)
hello = [{"role": "system", "content": "You are brief."}, {"role": "user", "content": "Hello there!"}]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


# GET /v1/models lists the models and the experiments.
ids = [m.id for m in client.models.list()]
check({"large", "small-a", "small-b", "small-c", "chai-blend"} <= set(ids), f"models: {ids}")

# Create, with every sampling parameter the issue names.
plain = client.chat.completions.create(
    model="small-a", messages=hello, max_tokens=12, temperature=0, top_p=0.9, seed=7,
    stop=["\n\n"], n=1, user="py-direct",
)
reply = plain.choices[0].message.content
check(plain.object == "chat.completion" and plain.model == "small-a", plain)
check(isinstance(reply, str) and plain.choices[0].finish_reason in ("stop", "length"), plain)
check(plain.usage.total_tokens == plain.usage.prompt_tokens + plain.usage.completion_tokens, plain.usage)
check(plain.usage.completion_tokens <= 12, plain.usage)

# max_completion_tokens bounds the reply as max_tokens does.
short = client.chat.completions.create(model="small-b", messages=hello, max_completion_tokens=3)
check(short.usage.completion_tokens <= 3, short.usage)

# Streaming: greedy decoding streams exactly the plain reply, and usage comes last.
stream = client.chat.completions.create(
    model="small-a", messages=hello, max_tokens=12, temperature=0, top_p=0.9, seed=7,
    stop=["\n\n"], user="py-direct", stream=True, stream_options={"include_usage": True},
)
chunks = list(stream)
streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
check(streamed == reply, f"streamed {streamed!r} != created {reply!r}")
check(chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens,
      chunks[-1])
check([c.choices[0].finish_reason for c in chunks if c.choices][-1] == plain.choices[0].finish_reason,
      "finish reasons differ")

# An experiment as `model`: the server assigns the user's arm and names the component.
conversation = f"py-{uuid.uuid4()}"
raw = client.chat.completions.with_raw_response.create(
    model="chai-blend", messages=[{"role": "user", "content": "Hi!"}], max_tokens=8,
    user="py-user-1", metadata={"conversation_id": conversation},
)
arm = raw.headers["x-blendlab-arm"]
first = raw.parse()
components = {"blend": {"small-a", "small-b", "small-c"}, "control": {"large"}}[arm]
check(first.model in components, f"{first.model} is not a component of {arm}")
# The conversation continues under metadata.conversation_id, streamed this time.
follow_up = client.chat.completions.create(
    model="chai-blend", user="py-user-1", metadata={"conversation_id": conversation}, max_tokens=8,
    messages=[{"role": "user", "content": "Hi!"},
              {"role": "assistant", "content": first.choices[0].message.content},
              {"role": "user", "content": "Tell me more."}],
    stream=True,
)
follow_chunks = list(follow_up)
check(follow_chunks and follow_chunks[0].model in components, follow_chunks[:1])

# Errors arrive in OpenAI's shape, so the client raises its own exception types.
try:
    client.chat.completions.create(model="no-such-model", messages=hello)
    raise AssertionError("an unknown model was accepted")
except openai.NotFoundError as error:
    check(error.body["code"] == "model_not_found" and error.body["param"] == "model", error.body)
try:
    client.chat.completions.create(model="small-a", messages=hello, max_tokens=0)
    raise AssertionError("max_tokens=0 was accepted")
except openai.BadRequestError as error:
    check(error.body["param"] == "max_tokens", error.body)
try:
    client.chat.completions.create(model="small-a", messages=hello, n=2)
    raise AssertionError("n=2 was accepted")
except openai.BadRequestError as error:
    check(error.body["param"] == "n", error.body)
try:
    openai.OpenAI(base_url=f"{base_url}/v1", api_key="wrong", max_retries=0).models.list()
    raise AssertionError("a wrong key was accepted")
except openai.AuthenticationError:
    pass
print("openai python client: all checks passed")
