"""A confidential app, iExec style.

Inputs (all optional): the dataset at $IEXEC_IN/$IEXEC_DATASET_FILENAME, input files
$IEXEC_IN/$IEXEC_INPUT_FILE_NAME_<n>, command-line args, the app developer's secret
$IEXEC_APP_DEVELOPER_SECRET and requester secrets $IEXEC_REQUESTER_SECRET_<n>.
Outputs: $IEXEC_OUT/result.json and $IEXEC_OUT/computed.json. Only /iexec_out leaves the enclave.
"""
import json
import os
import sys

IEXEC_IN = os.environ.get("IEXEC_IN", "/iexec_in")
IEXEC_OUT = os.environ.get("IEXEC_OUT", "/iexec_out")


def read_dataset():
    name = os.environ.get("IEXEC_DATASET_FILENAME")
    if not name:
        return None
    with open(os.path.join(IEXEC_IN, name), encoding="utf-8") as f:
        rows = [line for line in f.read().splitlines() if line.strip()]
    return {"name": name, "rows": len(rows), "first": rows[0] if rows else None}


def read_input_files():
    count = int(os.environ.get("IEXEC_INPUT_FILES_NUMBER", "0"))
    files = []
    for i in range(1, count + 1):
        name = os.environ[f"IEXEC_INPUT_FILE_NAME_{i}"]
        files.append({"name": name, "bytes": os.path.getsize(os.path.join(IEXEC_IN, name))})
    return files


def requester_secrets():
    # Never print or write a secret's value: say which ones arrived, and their length.
    prefix = "IEXEC_REQUESTER_SECRET_"
    return {k[len(prefix):]: len(v) for k, v in sorted(os.environ.items()) if k.startswith(prefix)}


def main():
    result = {
        "greeting": f"Hello, {' '.join(sys.argv[1:]) or 'world'}!",
        "dataset": read_dataset(),
        "inputFiles": read_input_files(),
        "appSecretLength": len(os.environ.get("IEXEC_APP_DEVELOPER_SECRET", "")),
        "requesterSecretLengths": requester_secrets(),
    }
    result_path = os.path.join(IEXEC_OUT, "result.json")
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, sort_keys=True)
    with open(os.path.join(IEXEC_OUT, "computed.json"), "w", encoding="utf-8") as f:
        json.dump({"deterministic-output-path": result_path}, f)
    print(f"wrote {result_path}: {result['greeting']}", flush=True)


if __name__ == "__main__":
    main()
