#!/bin/sh
# Generates a Python client from a running accountd's /openapi.json with
# openapi-python-client (installed from PyPI into a throwaway venv outside the checkout)
# and makes a few calls with it (python_client.py).
#
#   docs/examples/python-client.sh http://127.0.0.1:8080 "$TOKEN"
set -eu
base_url=${1:?usage: python-client.sh BASE_URL TOKEN}
token=${2:?usage: python-client.sh BASE_URL TOKEN}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/accountd-python-client.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet openapi-python-client
curl --fail --silent --show-error "$base_url/openapi.json" -o "$work/openapi.json"
(cd "$work" && "$work/venv/bin/openapi-python-client" generate --path openapi.json --meta none \
    --output-path accountd_client)
PYTHONPATH="$work" "$work/venv/bin/python" "$here/python_client.py" "$base_url" "$token"
