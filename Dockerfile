# The image docker-compose builds for the web and worker services.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
WORKDIR /app
# OpenCV (OCR) loads libGL and GLib at import; the slim image has neither.
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
# torch==2.13.0 must be its CPU build (the default build pulls CUDA): pass the package index
# that serves it, `docker compose build --build-arg TORCH_INDEX_URL=<CPU wheel index>`.
ARG TORCH_INDEX_URL
RUN pip install --no-cache-dir ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -r requirements.txt
COPY . .
RUN useradd --create-home voltai && mkdir -p /data && chown voltai /data
USER voltai
EXPOSE 8000
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
