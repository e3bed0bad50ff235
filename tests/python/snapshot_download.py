"""Downloads a repo with Python's huggingface_hub (used by tests/cli/download.rs).

usage: snapshot_download.py ENDPOINT CACHE_DIR REPO_ID
Prints the snapshot folder.
"""
import sys

from huggingface_hub import snapshot_download

endpoint, cache_dir, repo_id = sys.argv[1:4]
print(snapshot_download(repo_id, endpoint=endpoint, cache_dir=cache_dir, token=False))
