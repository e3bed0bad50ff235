"""Drives `hubble serve` with the official `openai` client, as an editor or agent would.

    python3 openai_client.py BASE_URL API_KEY AUDIO_FILE

Prints one JSON object with what each call returned (the Rust test compares it with
`hubble run`). The chat model, embedder and transcriber are the test cache's.
"""

import json
import sys

import openai

CHAT = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
WHISPER = "openai/whisper-tiny.en"
QUESTION = "What is the capital of France?"


def main():
    base_url, key, audio = sys.argv[1:4]
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)
    out = {}

    models = client.models.list()
    out["models"] = sorted(m.id for m in models.data)

    settings = dict(model=CHAT, messages=[{"role": "user", "content": QUESTION}],
                    temperature=0, max_tokens=24, seed=7)
    whole = client.chat.completions.create(**settings)
    out["chat"] = {
        "text": whole.choices[0].message.content,
        "finish_reason": whole.choices[0].finish_reason,
        "usage": whole.usage.model_dump(),
    }

    pieces = []
    usage = None
    for chunk in client.chat.completions.create(stream=True, stream_options={"include_usage": True},
                                                **settings):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage.model_dump()
    out["stream"] = {"pieces": pieces, "usage": usage}

    stopped = client.chat.completions.create(stop=[","], **settings)
    out["stopped"] = {"text": stopped.choices[0].message.content,
                      "finish_reason": stopped.choices[0].finish_reason}

    sentences = ["A cat sits on the mat.", "The weather is lovely today."]
    embedded = client.embeddings.create(model=EMBEDDER, input=sentences)
    out["embeddings"] = [item.embedding for item in embedded.data]
    out["embedding_tokens"] = embedded.usage.prompt_tokens

    with open(audio, "rb") as f:
        transcript = client.audio.transcriptions.create(model=WHISPER, file=f)
    out["transcript"] = transcript.text
    with open(audio, "rb") as f:
        out["srt"] = client.audio.transcriptions.create(model=WHISPER, file=f, response_format="srt")

    wrong = openai.OpenAI(base_url=base_url, api_key="wrong-" + key, max_retries=0)
    try:
        wrong.models.list()
        out["wrong_key"] = "accepted"
    except openai.AuthenticationError as e:
        out["wrong_key"] = {"status": e.status_code, "code": e.code}

    try:
        client.chat.completions.create(model="org/not-in-the-cache",
                                       messages=[{"role": "user", "content": "hi"}])
        out["missing_model"] = "accepted"
    except openai.NotFoundError as e:
        out["missing_model"] = {"status": e.status_code, "code": e.code, "body": e.body}

    # A client that hangs up after a few pieces of a long answer.
    stream = client.chat.completions.create(
        stream=True, **{**settings, "max_tokens": 400, "messages": [
            {"role": "user", "content": "Write a long story about a lighthouse keeper."}]})
    received = 0
    for chunk in stream:
        received += 1
        if received == 4:
            break
    stream.close()
    out["hung_up_after_chunks"] = received

    after = client.chat.completions.create(**{**settings, "max_tokens": 4})
    out["after_hang_up"] = after.choices[0].message.content
    print(json.dumps(out))


if __name__ == "__main__":
    main()
