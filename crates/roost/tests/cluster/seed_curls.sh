#!/usr/bin/env bash
# The curl commands of the queue seed documents (003: queue docs, 000: the launch post), in
# their order, with only the base URL changed to $BASE. Each call's status and body are checked.
set -euo pipefail
: "${BASE:?set BASE to the URL of a node}"

body_file=$(mktemp)
trap 'rm -f "$body_file"' EXIT
call() { # curl args...; sets CODE and BODY
  CODE=$(curl -s -o "$body_file" -w '%{http_code}' "$@")
  BODY=$(cat "$body_file")
}
expect() { # status [substring...]
  local want=$1; shift
  [ "$CODE" = "$want" ] || { echo "expected $want, got $CODE: $BODY" >&2; exit 1; }
  for s in "$@"; do
    case "$BODY" in *"$s"*) ;; *) echo "expected $s in: $BODY" >&2; exit 1 ;; esac
  done
}
field() { printf '%s' "$BODY" | grep -o "\"$1\":\"[^\"]*\"" | head -n1 | cut -d'"' -f4; }

# --- 003 Quickstart
call -X POST $BASE/q/create \
  -H 'Content-Type: application/json' \
  -d '{"consumers":["me"]}'
expect 201 '"queue_api_key":"qk_' '"consumers":["me"]'
QUEUE_ID=$(field queue_id)
QUEUE_API_KEY=$(field queue_api_key)

call -X POST $BASE/q/$QUEUE_ID/publish \
  -H "Authorization: Bearer $QUEUE_API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"hello":"world"}'
expect 201 '"seq":1' '"id":"qm_'

call -H "Authorization: Bearer $QUEUE_API_KEY" \
  "$BASE/q/$QUEUE_ID/pull?consumer_id=me&cursor=0"
expect 200 '"next_cursor":1' '"payload":{"hello":"world"}'

call -X POST $BASE/q/$QUEUE_ID/ack \
  -H "Authorization: Bearer $QUEUE_API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"cursor":1,"consumer_id":"me"}'
expect 200 '"ok":true' '"cursor":1'

# --- 003 POST /q/{id}/publish ... GET pull with limit, ack 42 (publish up to seq 42 first)
for i in $(seq 2 42); do
  call -X POST $BASE/q/$QUEUE_ID/publish \
    -H "Authorization: Bearer $QUEUE_API_KEY" \
    -H 'Content-Type: application/json' \
    -d '{"hello":"world"}'
  expect 201 "\"seq\":$i"
done
CONSUMER_ID=me
call -H "Authorization: Bearer $QUEUE_API_KEY" \
  "$BASE/q/$QUEUE_ID/pull?consumer_id=$CONSUMER_ID&cursor=0&limit=10"
expect 200 '"next_cursor":11' '"has_more":true' '"next_url":'
call -X POST $BASE/q/$QUEUE_ID/ack \
  -H "Authorization: Bearer $QUEUE_API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"cursor":42,"consumer_id":"me"}'
expect 200 '"ok":true' '"cursor":42'

# --- 003 consumers, origins, DLQ
call -H "Authorization: Bearer $QUEUE_API_KEY" \
  $BASE/q/$QUEUE_ID/consumers
expect 200 '"consumers":["me"]'
call -X POST $BASE/q/$QUEUE_ID/consumers \
  -H "Authorization: Bearer $QUEUE_API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"add":["new_consumer"],"remove":["old_consumer"]}'
expect 200 '"consumers":["me","new_consumer"]'
call -X POST $BASE/q/$QUEUE_ID/origins \
  -H "Authorization: Bearer $QUEUE_API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"add":["https://example.com"],"remove":[]}'
expect 200 '"allowed_origins":"https://example.com"'
call -H "Authorization: Bearer $QUEUE_API_KEY" \
  $BASE/q/$QUEUE_ID/dlq
expect 200 '"messages":[]'
# Put one message in the DLQ so the replay has a row to act on.
call -X POST $BASE/q/$QUEUE_ID/publish \
  -H "Authorization: Bearer $QUEUE_API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"poison":true}'
expect 201 '"seq":43'
DLQ_MSG_ID=$(field id)
call -X POST $BASE/q/$QUEUE_ID/nack \
  -H "Authorization: Bearer $QUEUE_API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"consumer_id":"me","seq":43,"error":"bad","dead_letter":true}'
expect 200 '"dead_lettered":true'
call -H "Authorization: Bearer $QUEUE_API_KEY" \
  $BASE/q/$QUEUE_ID/dlq
expect 200 "\"id\":\"$DLQ_MSG_ID\"" '"nack_count":1'
call -X POST $BASE/q/$QUEUE_ID/dlq/replay \
  -H "Authorization: Bearer $QUEUE_API_KEY" \
  -H 'Content-Type: application/json' \
  -d "{\"dlq_msg_id\":\"$DLQ_MSG_ID\"}"
expect 200 '"ok":true' '"source":"dlq-replay"' "\"replayed_from\":\"$DLQ_MSG_ID\""

# --- 003 worked example: form -> queue -> consumer pull
call -X POST $BASE/new
expect 201 '"form_api_key":"fk_'
FORM_ID=$(field form_id)
FORM_API_KEY=$(field form_api_key)
call -X POST $BASE/q/create \
  -H 'Content-Type: application/json' \
  -d '{"consumers":["me"]}'
expect 201
QUEUE_ID=$(field queue_id)
QUEUE_API_KEY=$(field queue_api_key)
call -X PUT $BASE/api/forms/$FORM_ID \
  -H "Authorization: Bearer $FORM_API_KEY" \
  -H 'Content-Type: application/json' \
  -d "{\"queue_id\":\"$QUEUE_ID\",\"queue_api_key\":\"$QUEUE_API_KEY\"}"
expect 200 '"ok":true'
call -X POST $BASE/f/$FORM_ID \
  -d 'name=Jane&[email protected]&message=hello'
expect 200 '"ok":true' '"submission_id":"sub_'
for _ in $(seq 1 50); do
  call -H "Authorization: Bearer $QUEUE_API_KEY" \
    "$BASE/q/$QUEUE_ID/pull?consumer_id=me&cursor=0"
  case "$BODY" in *'"source":"form-mirror"'*) break ;; esac
  sleep 0.1
done
expect 200 '"source":"form-mirror"' "\"form_id\":\"$FORM_ID\"" '"message":"hello"' '"next_cursor":1'
call -X POST $BASE/q/$QUEUE_ID/ack \
  -H "Authorization: Bearer $QUEUE_API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"cursor":1,"consumer_id":"me"}'
expect 200 '"ok":true' '"cursor":1'

# --- 000 the publish/pull/ack cycle
call -X POST $BASE/q/create
expect 201
id=$(field queue_id)
QUEUE_KEY=$(field queue_api_key)
call -X POST $BASE/q/$id/publish \
  -H "Authorization: Bearer $QUEUE_KEY" \
  -H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" \
  -d '{"task": "process-screenshot", "url": "https://..."}'
expect 201 '"seq":1'
call "$BASE/q/$id/pull?consumer_id=worker-1&cursor=0&limit=10" \
  -H "Authorization: Bearer $QUEUE_KEY"
expect 200 '"task": "process-screenshot"'
call -X POST $BASE/q/$id/ack \
  -H "Authorization: Bearer $QUEUE_KEY" \
  -d '{"consumer_id": "worker-1", "cursor": 1}'
expect 200 '"ok":true'
echo "seed curls: all passed"
