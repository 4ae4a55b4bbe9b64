# newsbot: one image for every process (`newsbot run | worker | beat | bot`, and `celery -A tasks ...`).
#
#   docker build -t newsbot .
#   docker run --rm --env-file .env -v "$PWD/site:/site:ro" -e SITE_DIR=/site newsbot   # newsbot run
#
# docker-compose.yml runs the same image as separate services around one Redis.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed, unprivileged user: files it writes to the /data volume keep a predictable owner.
RUN groupadd --system --gid 10001 newsbot \
 && useradd --system --uid 10001 --gid newsbot --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin newsbot

# Dependencies first, from pyproject.toml alone, so editing the code does not reinstall them.
# Flower is the web monitor the compose file runs with `celery -A tasks flower`.
COPY pyproject.toml /src/pyproject.toml
RUN python -c "import tomllib; deps = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(deps))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt "flower>=2.0" \
 && rm /tmp/requirements.txt

# Then the project itself: only what `pip install .` and the default templates need
# (.dockerignore keeps everything else, .env above all, out of the build context).
COPY README.md /src/README.md
COPY bot/ /src/bot/
COPY tasks/ /src/tasks/
COPY templates/ /src/templates/

# `pip install .` installs the packages `bot` and `tasks`, not templates/, while
# bot.teasers.env looks for its defaults at DEFAULT_TEMPLATES_DIR (beside the installed package):
# put them there. The last line fails the build if the default templates cannot be compiled.
RUN pip install --no-deps /src \
 && cd / \
 && python -c "import shutil; from bot.teasers.env import DEFAULT_TEMPLATES_DIR as d; shutil.copytree('/src/templates', d, dirs_exist_ok=True); print('templates ->', d)" \
 && rm -rf /src \
 && python -c "from bot.teasers.render import TeaserRenderer; TeaserRenderer()" \
 && newsbot --help > /dev/null

# /app is only the working directory (`.env`, if one is mounted there, is read from it); no source
# lives there, so `celery -A tasks` and `newsbot` import the same installed package.
WORKDIR /app
RUN mkdir -p /data && chown newsbot:newsbot /data /app
ENV DATA_DIR=/data
VOLUME ["/data"]

USER newsbot

ENTRYPOINT ["newsbot"]
CMD ["run"]
