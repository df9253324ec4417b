#!/usr/bin/env bash
# Sets up an Ubuntu 22.04 machine (the AWS Deep Learning Base GPU AMI) to train rllib-integration experiments
# on a real CARLA server:
#   1. system packages CARLA 0.9.16 needs (Vulkan loader, OpenMP, xdg-user-dirs) and python3-venv;
#   2. CARLA 0.9.16 in ~/CARLA_0.9.16, and its additional maps imported (Town06, Town07, Town10HD, ...);
#   3. a Python virtual environment with this project's requirements (CUDA torch on a GPU machine) and the Ray
#      dashboard;
#   4. a Ray authentication token (~/.ray/auth_token, owner-only), shared by every machine made from this image,
#      so the nodes of a cluster accept each other and nobody else;
#   5. ~/.rllib_integration_env (CARLA_ROOT, the virtual environment, RAY_AUTH_MODE=token), sourced by ~/.bashrc
#      and ~/.profile, so login shells, `ray` commands of the autoscaler and aws_helper.py exec all see it.
# Running it again skips what is done: downloads resume, finished steps leave a marker.
#
#   bash aws/install/install.sh          # aws_helper.py create-image runs it on the builder instance
#
# Settings (environment variables, defaults in brackets):
#   CARLA_VERSION [0.9.16]  CARLA_DIR [~/CARLA_$CARLA_VERSION]  CARLA_BASE_URL [CARLA's release bucket]
#   PROJECT_DIR [~/rllib-integration] (its requirements.txt is installed)  VENV_DIR [~/.venvs/rllib-integration]
#   PYTHON [python3]  DOWNLOAD_DIR [~/.cache/carla-downloads]  SKIP_APT [0]  SKIP_ADDITIONAL_MAPS [0]
#   CHECK_IMPORTS [carla ray torch gymnasium rllib_integration] (modules the environment must import at the end)
set -euo pipefail

CARLA_VERSION="${CARLA_VERSION:-0.9.16}"
CARLA_DIR="${CARLA_DIR:-$HOME/CARLA_$CARLA_VERSION}"
CARLA_BASE_URL="${CARLA_BASE_URL:-https://carla-releases.s3.us-east-005.backblazeb2.com/Linux}"
PROJECT_DIR="${PROJECT_DIR:-$HOME/rllib-integration}"
VENV_DIR="${VENV_DIR:-$HOME/.venvs/rllib-integration}"
PYTHON="${PYTHON:-python3}"
DOWNLOAD_DIR="${DOWNLOAD_DIR:-$HOME/.cache/carla-downloads}"
SKIP_APT="${SKIP_APT:-0}"
SKIP_ADDITIONAL_MAPS="${SKIP_ADDITIONAL_MAPS:-0}"
CHECK_IMPORTS="${CHECK_IMPORTS:-carla ray torch gymnasium rllib_integration}"
ENV_FILE="$HOME/.rllib_integration_env"
# shellcheck disable=SC2016  # the line is written as is, to be expanded by the shell that reads it
MARKER_LINE='if [ -f "$HOME/.rllib_integration_env" ]; then . "$HOME/.rllib_integration_env"; fi  # rllib-integration'

log() { printf '[install] %s\n' "$*"; }
die() { printf '[install] error: %s\n' "$*" >&2; exit 1; }

system_packages() {
    if [ "$SKIP_APT" = 1 ]; then log "system packages: skipped (SKIP_APT=1)"; return; fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    # The DLAMI runs unattended upgrades at boot; wait for the package lock instead of failing.
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        curl ca-certificates libomp5 libvulkan1 xdg-user-dirs python3-venv python3-pip
}

# download URL FILE: resumable, retried, and only a complete file takes the final name.
download() {
    local url="$1" file="$2"
    if [ -f "$file" ]; then log "have $(basename "$file")"; return; fi
    mkdir -p "$(dirname "$file")"
    log "downloading $url"
    curl -fL --retry 5 --retry-delay 10 --retry-connrefused -C - --progress-bar -o "$file.part" "$url" \
        || die "download of $url failed; run this script again to resume"
    mv "$file.part" "$file"
}

install_carla() {
    local marker="$CARLA_DIR/.rllib-integration-carla-$CARLA_VERSION"
    if [ -f "$marker" ]; then log "CARLA $CARLA_VERSION: already in $CARLA_DIR"; return; fi
    local archive="$DOWNLOAD_DIR/CARLA_$CARLA_VERSION.tar.gz"
    download "$CARLA_BASE_URL/CARLA_$CARLA_VERSION.tar.gz" "$archive"
    mkdir -p "$CARLA_DIR"
    log "extracting CARLA into $CARLA_DIR"
    tar -xzf "$archive" -C "$CARLA_DIR"
    [ -x "$CARLA_DIR/CarlaUE4.sh" ] || die "$archive has no CarlaUE4.sh; is CARLA_BASE_URL right?"
    rm -f "$archive"
    touch "$marker"
}

install_additional_maps() {
    if [ "$SKIP_ADDITIONAL_MAPS" = 1 ]; then log "additional maps: skipped (SKIP_ADDITIONAL_MAPS=1)"; return; fi
    local marker="$CARLA_DIR/.rllib-integration-maps-$CARLA_VERSION"
    if [ -f "$marker" ]; then log "additional maps: already imported"; return; fi
    local archive="$CARLA_DIR/Import/AdditionalMaps_$CARLA_VERSION.tar.gz"  # where ImportAssets.sh looks
    download "$CARLA_BASE_URL/AdditionalMaps_$CARLA_VERSION.tar.gz" "$archive"
    log "importing the additional maps"
    (cd "$CARLA_DIR" && ./ImportAssets.sh) || die "ImportAssets.sh failed; run this script again to retry"
    rm -f "$archive"
    touch "$marker"
}

python_environment() {
    [ -f "$PROJECT_DIR/requirements.txt" ] || die "$PROJECT_DIR/requirements.txt not found; upload the project \
there first (aws_helper.py create-image does) or set PROJECT_DIR"
    if [ ! -x "$VENV_DIR/bin/python" ]; then
        log "creating the virtual environment $VENV_DIR"
        "$PYTHON" -m venv "$VENV_DIR"
    fi
    local pip=("$VENV_DIR/bin/python" -m pip install -q --disable-pip-version-check)
    "${pip[@]}" --upgrade pip
    log "installing $PROJECT_DIR/requirements.txt"
    "${pip[@]}" -r "$PROJECT_DIR/requirements.txt"
    if [ -f "$PROJECT_DIR/pyproject.toml" ]; then "${pip[@]}" -e "$PROJECT_DIR"; fi
    local ray_version
    if ray_version="$("$VENV_DIR/bin/python" -c 'import ray; print(ray.__version__)' 2>/dev/null)"; then
        log "adding the Ray dashboard (ray[default]==$ray_version)"
        "${pip[@]}" "ray[default]==$ray_version"
    fi
}

ray_token() {
    local token="$HOME/.ray/auth_token"
    if [ -s "$token" ]; then
        chmod 700 "$HOME/.ray" && chmod 600 "$token"  # an existing token too: readable by its owner only
        log "Ray token: keeping $token (owner-only)"; return
    fi
    mkdir -p "$HOME/.ray"
    chmod 700 "$HOME/.ray"
    (umask 077 && "$VENV_DIR/bin/python" -c 'import secrets; print(secrets.token_hex(32))' > "$token")
    log "Ray token: generated $token"
}

environment_file() {
    cat > "$ENV_FILE.tmp" <<EOF
# rllib-integration: written by aws/install/install.sh; sourced by ~/.bashrc and ~/.profile.
export CARLA_ROOT="$CARLA_DIR"
export RLLIB_INTEGRATION_PROJECT="$PROJECT_DIR"
export RAY_AUTH_MODE=token  # every node the same: Ray token authentication with ~/.ray/auth_token
if [ -z "\${RLLIB_INTEGRATION_ENV:-}" ] && [ -f "$VENV_DIR/bin/activate" ]; then
    export RLLIB_INTEGRATION_ENV=1
    . "$VENV_DIR/bin/activate"
fi
EOF
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    local rc
    for rc in "$HOME/.bashrc" "$HOME/.profile"; do
        touch "$rc"
        grep -qxF "$MARKER_LINE" "$rc" || printf '%s\n' "$MARKER_LINE" >> "$rc"
    done
    log "environment: $ENV_FILE (CARLA_ROOT=$CARLA_DIR, $VENV_DIR)"
}

check() {
    local module
    for module in $CHECK_IMPORTS; do
        "$VENV_DIR/bin/python" -c "import $module" || die "the virtual environment cannot import $module"
    done
    [ -x "$CARLA_DIR/CarlaUE4.sh" ] || die "$CARLA_DIR/CarlaUE4.sh is missing"
    log "done: CARLA $CARLA_VERSION in $CARLA_DIR, Python in $VENV_DIR; open a new shell (or source $ENV_FILE)"
}

system_packages
install_carla
install_additional_maps
python_environment
ray_token
environment_file
check
