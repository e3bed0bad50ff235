"""Checks a Hugging Face cache the way Python's huggingface_hub reads it (used by
tests/cli/download.rs): scan_cache_dir() and hf_hub_download(local_files_only=True).

usage: check_cache.py CACHE_DIR REPO_ID [FILE ...]
Prints JSON: {"repos": [{"repo_id", "size_on_disk", "nb_files", "refs", "revisions": [...]}],
"warnings": [...], "files": {FILE: {"path", "size"}}}
"""
import json
import os
import sys

from huggingface_hub import hf_hub_download, scan_cache_dir

cache_dir, repo_id, files = sys.argv[1], sys.argv[2], sys.argv[3:]
info = scan_cache_dir(cache_dir)
out = {"repos": [], "warnings": [str(w) for w in info.warnings], "files": {}}
for repo in info.repos:
    out["repos"].append(
        {
            "repo_id": repo.repo_id,
            "repo_type": repo.repo_type,
            "size_on_disk": repo.size_on_disk,
            "nb_files": repo.nb_files,
            "refs": sorted(repo.refs),
            "revisions": [
                {
                    "commit_hash": r.commit_hash,
                    "refs": sorted(r.refs),
                    "size_on_disk": r.size_on_disk,
                    "files": sorted(
                        (
                            {"name": f.file_path.relative_to(r.snapshot_path).as_posix(), "size": f.size_on_disk}
                            for f in r.files
                        ),
                        key=lambda f: f["name"],
                    ),
                }
                for r in repo.revisions
            ],
        }
    )
for name in files:
    path = hf_hub_download(repo_id, name, cache_dir=cache_dir, local_files_only=True)
    out["files"][name] = {"path": path, "size": os.path.getsize(path)}
print(json.dumps(out, default=str))
