# One image for every process of the assistant (docker-compose.yml runs it as the action server, the Rasa
# server, the website app and the migration). Not built by the tests, which run the same processes from .venv.
FROM python:3.10-slim-bookworm
WORKDIR /app
RUN useradd --create-home --uid 10001 assistant
COPY requirements.lock requirements-model.lock pyproject.toml ./
COPY scripts/bootstrap.sh scripts/
COPY bot/ bot/
RUN python -m venv .venv && PYTHON=/usr/local/bin/python scripts/bootstrap.sh
COPY . .
# The model is trained into the image, so every replica answers with the same one.
RUN .venv/bin/python -m bot.nlu.training && chown -R assistant /app/var 2>/dev/null; mkdir -p /app/var \
    && chown assistant /app/var
ENV PATH=/app/.venv/bin:$PATH RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2
USER assistant
