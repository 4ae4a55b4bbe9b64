# newsbot: one image for every process (`newsbot run | worker | beat | bot`, and `celery -A tasks ...`).
#
#   docker build -t newsbot .
#   docker run --rm --env-file .env -v "$PWD/site:/site:ro" -e SITE_DIR=/site newsbot   # newsbot run
#
# docker-compose.yml runs the same image as separate services around one Redis.
# Pinned to a patch release and Debian release: a rebuild gets the same interpreter (bump on purpose).
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed, unprivileged user: files it writes to the /data volume keep a predictable owner.
RUN groupadd --system --gid 10001 newsbot \
 && useradd --system --uid 10001 --gid newsbot --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin newsbot

# Dependencies first, from the lock alone, so editing the code does not reinstall them:
# requirements.lock pins every package with its hashes, so every build installs the same
# versions (scripts/lock regenerates it; tests/test_lock.py checks it against pyproject.toml,
# and that it holds every dependency of what it pins, since --no-deps installs nothing else).
COPY requirements.lock /src/requirements.lock
RUN pip install --require-hashes --no-deps -r /src/requirements.lock \
 && pip check

# Then the project itself (its dependencies are all there already): only what `pip install .`
# and the default templates need
# (.dockerignore keeps everything else, .env above all, out of the build context).
COPY pyproject.toml README.md /src/
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
