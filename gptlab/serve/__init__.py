"""``gptlab-serve``: an OpenAI-compatible HTTP server and a local web app (chat, runs) over the backends."""
