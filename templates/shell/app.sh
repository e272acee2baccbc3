#!/bin/sh
# A confidential app, iExec style.
#
# Inputs (all optional): the dataset at $IEXEC_IN/$IEXEC_DATASET_FILENAME, input files
# $IEXEC_IN/$IEXEC_INPUT_FILE_NAME_<n>, command-line args, the app developer's secret
# $IEXEC_APP_DEVELOPER_SECRET and requester secrets $IEXEC_REQUESTER_SECRET_<n>.
# Outputs: $IEXEC_OUT/result.txt and $IEXEC_OUT/computed.json. Only /iexec_out leaves the enclave.
set -eu
in="${IEXEC_IN:-/iexec_in}"
out="${IEXEC_OUT:-/iexec_out}"
result="$out/result.txt"

greeting="Hello, ${*:-world}!"
echo "$greeting" > "$result"
if [ -n "${IEXEC_DATASET_FILENAME:-}" ]; then
  echo "dataset: $IEXEC_DATASET_FILENAME, $(wc -l < "$in/$IEXEC_DATASET_FILENAME") lines" >> "$result"
fi
i=1
while [ "$i" -le "${IEXEC_INPUT_FILES_NUMBER:-0}" ]; do
  eval "name=\$IEXEC_INPUT_FILE_NAME_$i"
  echo "input file $i: $name, $(wc -c < "$in/$name") bytes" >> "$result"
  i=$((i + 1))
done
# Never print or write a secret's value: say whether it arrived.
[ -n "${IEXEC_APP_DEVELOPER_SECRET:-}" ] && echo "app secret: present" >> "$result"
[ -n "${IEXEC_REQUESTER_SECRET_1:-}" ] && echo "requester secret 1: present" >> "$result"
printf '{"deterministic-output-path":"%s"}' "$result" > "$out/computed.json"
echo "wrote $result: $greeting"
