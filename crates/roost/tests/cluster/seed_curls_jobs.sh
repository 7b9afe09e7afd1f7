#!/usr/bin/env bash
# The curl commands of seeds 004 (jobs) and 001 (work queues), in their order, with only the
# base URL and the token changed ($BASE, $TOKEN and $JWT_TOKEN). Each call's status and body are checked.
set -euo pipefail
: "${BASE:?set BASE to the URL of a node}"
: "${TOKEN:?set TOKEN to a workspace token}"
JWT_TOKEN=$TOKEN
body_file=$(mktemp)
trap 'rm -f "$body_file"' EXIT
call() {
  CODE=$(curl -s -o "$body_file" -w '%{http_code}' "$@")
  BODY=$(cat "$body_file")
}
expect() {
  local want=$1; shift
  case " $want " in *" $CODE "*) ;; *) echo "expected $want, got $CODE: $BODY" >&2; exit 1 ;; esac
  for s in "$@"; do
    case "$BODY" in *"$s"*) ;; *) echo "expected $s in: $BODY" >&2; exit 1 ;; esac
  done
}
field() { printf '%s' "$BODY" | grep -o "\"$1\":\"[^\"]*\"" | head -n1 | cut -d'"' -f4; }

# --- 004 Enqueuing a job
call -X POST "$BASE/jobs" \
  -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" \
  -d '{
    "type": "agent_run",
    "payload": {
      "agentId": "research-agent",
      "uid": "user_01j...",
      "message": "Summarize all Slack threads from last week"
    },
    "maxRetries": 2,
    "timeoutSeconds": 600
  }'
expect 202 '"status":"pending"' '"id":"job_'
JOB=$(field id)

# --- 004 Polling for results
call "$BASE/jobs/$JOB" \
  -H "Authorization: Bearer $TOKEN"
expect 200 '"job":{' '"status":"pending"' '"progress":0'

# --- 004 Listing jobs
call "$BASE/jobs?status=failed&limit=10" \
  -H "Authorization: Bearer $TOKEN"
expect 200 '"jobs":[]'

# --- 004 Cancelling a job
call -X DELETE "$BASE/jobs/$JOB" \
  -H "Authorization: Bearer $TOKEN"
expect 200 '"status":"cancelled"'

# --- 001 Creating queues and tasks
call -X POST $BASE/work-queues \
-H "Authorization: Bearer ${JWT_TOKEN}" \
-H "Content-Type: application/json" \
-d '{ "name": "bug-triage", "teamId": "engineering" }'
expect 201 '"teamId":"engineering"'
WQ=$(field id)
call -X POST $BASE/work-queues/$WQ/tasks \
-H "Authorization: Bearer ${JWT_TOKEN}" \
-H "Content-Type: application/json" \
-d '{
"name": "Investigate login timeout on mobile",
"priority": 4,
"payload": { "ticketId": "T-4821" },
"deadline": "2026-03-08T17:00:00.000Z"
}'
expect 201 '"priority":4' '"status":"pending"'
TASK=$(field id)

# --- 001 Dequeuing and work stealing
call -X POST $BASE/work-queues/$WQ/dequeue \
-H "Authorization: Bearer ${JWT_TOKEN}" \
-H "Content-Type: application/json" \
-d '{ "agentId": "triage-agent" }'
expect 200 "\"id\":\"$TASK\"" '"status":"assigned"' '"agentId":"triage-agent"'
call -X POST $BASE/work-queues/$WQ/steal \
-H "Authorization: Bearer ${JWT_TOKEN}" \
-H "Content-Type: application/json" \
-d '{ "agentId": "idle-agent" }'
expect "200 204"

# --- 001 Completing and failing tasks
call -X POST $BASE/work-queue-tasks/$TASK/complete \
-H "Authorization: Bearer ${JWT_TOKEN}" \
-H "Content-Type: application/json" \
-d '{ "result": { "rootCause": "Session cookie SameSite attribute", "fix": "PR #312" } }'
# The result comes back exactly as it was sent (spaces and all).
expect 200 '"status":"completed"' '"fix": "PR #312"'
call -X POST $BASE/work-queues/$WQ/tasks \
-H "Authorization: Bearer ${JWT_TOKEN}" \
-H "Content-Type: application/json" \
-d '{ "name": "Reproduce on staging" }'
expect 201
TASK2=$(field id)
call -X POST $BASE/work-queues/$WQ/dequeue \
-H "Authorization: Bearer ${JWT_TOKEN}" \
-H "Content-Type: application/json" \
-d '{ "agentId": "triage-agent" }'
expect 200 "\"id\":\"$TASK2\""
call -X POST $BASE/work-queue-tasks/$TASK2/fail \
-H "Authorization: Bearer ${JWT_TOKEN}" \
-H "Content-Type: application/json" \
-d '{ "error": "Unable to reproduce on staging" }'
expect 200 '"status":"failed"' '"error":"Unable to reproduce on staging"'

# --- 001 Endpoint reference: the reads and the delete
call -H "Authorization: Bearer ${JWT_TOKEN}" $BASE/work-queues
expect 200 "\"id\":\"$WQ\""
call -H "Authorization: Bearer ${JWT_TOKEN}" $BASE/work-queues/$WQ
expect 200 '"completed":1' '"failed":1'
call -H "Authorization: Bearer ${JWT_TOKEN}" "$BASE/work-queues/$WQ/tasks?status=completed"
expect 200 "\"id\":\"$TASK\""
call -X DELETE -H "Authorization: Bearer ${JWT_TOKEN}" $BASE/work-queues/$WQ
expect 200 '"deleted":true'
call -X POST $BASE/work-queues/$WQ/dequeue \
-H "Authorization: Bearer ${JWT_TOKEN}" \
-H "Content-Type: application/json" \
-d '{ "agentId": "triage-agent" }'
expect 404
echo "seed curls: all passed"
