"""Drives Roost's MCP tools with the official Python MCP client (PyPI `mcp`).

Usage: mcp_client.py http  BASE_URL TOKEN
       mcp_client.py stdio BASE_URL TOKEN ROOST_BINARY [NODE_URLS]

Over HTTP it talks to BASE_URL/mcp with the workspace token as `Authorization: Bearer`; over
stdio it starts `ROOST_BINARY mcp --url NODE_URLS` (comma-separated, default BASE_URL) with the
token in `ROOST_TOKEN`. Either way it
lists the tools, runs a queue's whole flow, binds a form to a queue, claims and completes a
job, takes and finishes a task, and checks that failures are tool errors with a stable code.
Forms have no MCP tool of their own, so the form is made and submitted to over HTTP. Exits
non-zero on the first check that fails.
"""

import asyncio
import json
import sys
import time

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

TOOLS = {
    "create_queue", "publish_to_queue", "pull_queue", "ack_queue", "subscribe_form_to_queue",
    "get_queue", "nack_message", "list_dead_letters", "replay_dead_letter",
    "create_job", "get_job", "list_jobs", "cancel_job", "wait_for_job", "claim_jobs",
    "heartbeat_job", "complete_job", "fail_job",
    "create_work_queue", "list_work_queues", "add_task", "list_tasks", "dequeue_task",
    "steal_task", "complete_task", "fail_task",
}


def check(cond, what, detail=None):
    if not cond:
        raise SystemExit(f"FAILED: {what}: {json.dumps(detail, default=str)[:2000]}")


async def ok(client, tool, args):
    r = await client.call_tool(tool, args)
    check(not r.is_error, f"{tool} succeeds", r.structured_content or str(r.content))
    check(isinstance(r.structured_content, dict), f"{tool} has structured content", r)
    return r.structured_content


async def failure(client, tool, args, code):
    r = await client.call_tool(tool, args)
    check(r.is_error, f"{tool} fails", r.structured_content)
    s = r.structured_content
    check(s.get("code") == code, f"{tool} fails with {code}", s)
    check(s.get("error") and s.get("_help"), f"{tool}'s failure says what and what next", s)
    return s


async def tools_are_listed(client):
    listed = {t.name: t for t in (await client.list_tools()).tools}
    check(set(listed) == TOOLS, "exactly the tools", sorted(set(listed) ^ TOOLS))
    pull = listed["pull_queue"]
    check(pull.annotations.read_only_hint is True, "pull_queue is read-only", pull.annotations)
    check(listed["cancel_job"].annotations.destructive_hint is True, "cancel_job is destructive")
    check(listed["ack_queue"].annotations.idempotent_hint is True, "ack_queue is idempotent")
    props = listed["publish_to_queue"].input_schema["properties"]
    for arg in ("queue_id", "queue_api_key", "payload", "idempotency_key"):
        check(arg in props, f"publish_to_queue takes {arg}", props)
    for tool, arg in (("get_job", "id"), ("add_task", "id"), ("complete_task", "id")):
        check(arg in listed[tool].input_schema["properties"], f"{tool} takes {arg}")


async def queue_flow(client):
    q = await ok(client, "create_queue", {"consumers": ["agent"]})
    qid, key = q["queue_id"], q["queue_api_key"]
    check(qid.startswith("q_") and key, "a queue id and its key", q)
    auth = {"queue_id": qid, "queue_api_key": key}

    first = await ok(client, "publish_to_queue", {**auth, "payload": {"task": "a", "n": 1}})
    keyed = {**auth, "payload": {"task": "b"}, "idempotency_key": "once-b"}
    second = await ok(client, "publish_to_queue", keyed)
    again = await ok(client, "publish_to_queue", keyed)
    check(second["seq"] == first["seq"] + 1, "seqs are consecutive", [first, second])
    check(again["seq"] == second["seq"] and again["idempotent_replayed"], "a keyed retry", again)

    page = await ok(client, "pull_queue", {**auth, "consumer_id": "agent", "limit": 10})
    payloads = [m["payload"] for m in page["messages"]]
    check(payloads == [{"task": "a", "n": 1}, {"task": "b"}], "both messages, in order", page)
    await ok(client, "ack_queue", {**auth, "consumer_id": "agent", "cursor": page["next_cursor"]})
    empty = await ok(client, "pull_queue", {**auth, "consumer_id": "agent"})
    check(empty["messages"] == [], "nothing after the ack", empty)
    info = await ok(client, "get_queue", auth)
    check(info["consumers"][0]["lag"] == 0, "no lag after the ack", info)

    third = await ok(client, "publish_to_queue", {**auth, "payload": "poison"})
    nacked = await ok(client, "nack_message", {
        **auth, "consumer_id": "agent", "seq": third["seq"], "error": "cannot parse",
        "dead_letter": True})
    check(nacked["dead_lettered"], "dead-lettered at once", nacked)
    dlq = await ok(client, "list_dead_letters", auth)
    check(len(dlq["messages"]) == 1, "one dead letter", dlq)
    dead = dlq["messages"][0]
    replayed = await ok(client, "replay_dead_letter", {**auth, "dlq_msg_id": dead["id"]})
    check(replayed["replayed"]["payload"] == "poison", "the replay is the same payload", replayed)

    await failure(client, "publish_to_queue", {**auth, "queue_api_key": "wrong", "payload": 1},
                  "invalid_api_key")
    await failure(client, "pull_queue", {**auth, "consumer_id": 7}, "invalid_body")
    await failure(client, "get_queue", {"queue_id": "q_nope"}, "queue_not_found")
    return auth


async def form_flow(client, base, auth):
    async with httpx2.AsyncClient() as http:
        created = (await http.post(f"{base}/new", json={"name": "signups"})).json()
        form = {"form_id": created["form_id"], "form_api_key": created["form_api_key"]}
        await failure(client, "subscribe_form_to_queue",
                      {**form, "queue_id": auth["queue_id"], "queue_api_key": "wrong"},
                      "invalid_api_key")
        bound = await ok(client, "subscribe_form_to_queue", {**form, **auth})
        check(bound["ok"] and bound["form_id"] == form["form_id"], "the form is bound", bound)
        r = await http.post(f"{base}/f/{form['form_id']}", json={"email": "a@example.com"})
        check(r.status_code < 300, "the form takes a submission", r.text)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        page = await ok(client, "pull_queue", {**auth, "consumer_id": "agent", "limit": 100})
        mirrored = [m for m in page["messages"] if m.get("source") == "form-mirror"]
        if mirrored:
            check(mirrored[0]["payload"].get("email") == "a@example.com", "the submission", page)
            return
        await asyncio.sleep(0.2)
    check(False, "the submission reaches the queue within 20 s")


async def job_flow(client):
    created = await ok(client, "create_job", {
        "type": "summarize", "payload": {"doc": 1}, "maxRetries": 1,
        "idempotency_key": "job-1"})
    jid = created["id"]
    check(created["status"] == "pending", "a new job is pending", created)
    claimed = await ok(client, "claim_jobs", {"workerId": "w1", "types": ["summarize"]})
    check([j["id"] for j in claimed["jobs"]] == [jid], "the job is claimed", claimed)
    token = claimed["jobs"][0]["token"]
    beat = await ok(client, "heartbeat_job", {"id": jid, "token": token, "progress": 50})
    check(beat["cancelRequested"] is False, "no cancellation asked", beat)
    done = await ok(client, "complete_job", {"id": jid, "token": token, "result": {"words": 3}})
    check(done["job"]["status"] == "completed", "completed", done)
    waited = await ok(client, "wait_for_job", {"id": jid, "timeout": 5})
    check(waited["job"]["result"] == {"words": 3}, "the result", waited)
    got = await ok(client, "get_job", {"id": jid})
    check(got["job"]["progress"] == 100, "progress is full once completed", got)
    listed = await ok(client, "list_jobs", {"status": "completed"})
    check(jid in [j["id"] for j in listed["jobs"]], "listed as completed", listed)

    other = await ok(client, "create_job", {"type": "never-run"})
    cancelled = await ok(client, "cancel_job", {"id": other["id"]})
    check(cancelled["job"]["status"] == "cancelled", "a queued job cancels at once", cancelled)
    await failure(client, "get_job", {"id": "job_missing"}, "job_not_found")


async def work_flow(client):
    wq = await ok(client, "create_work_queue", {"name": "triage", "teamId": "red"})
    queues = await ok(client, "list_work_queues", {})
    check(wq["id"] in [q["id"] for q in queues["workQueues"]], "the work queue is listed", queues)
    await ok(client, "add_task", {"id": wq["id"], "name": "low", "priority": 1})
    urgent = await ok(client, "add_task", {"id": wq["id"], "name": "urgent", "priority": 5})
    taken = await ok(client, "dequeue_task", {"id": wq["id"], "agentId": "a1"})
    check(taken["task"]["id"] == urgent["task"]["id"], "the most urgent task first", taken)
    done = await ok(client, "complete_task", {
        "id": taken["task"]["id"], "token": taken["task"]["token"], "result": {"ok": True}})
    check(done["task"]["status"] == "completed", "the task is completed", done)
    tasks = await ok(client, "list_tasks", {"id": wq["id"], "status": "completed"})
    check([t["name"] for t in tasks["tasks"]] == ["urgent"], "one completed task", tasks)


async def without_token(connect):
    async with connect(None) as client:
        await failure(client, "create_job", {"type": "x"}, "invalid_token")


async def main():
    mode, base, token = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]

    def connect(tok):
        if mode == "http":
            headers = {"Authorization": f"Bearer {tok}"} if tok else {}
            http = httpx2.AsyncClient(headers=headers, timeout=60)
            return Client(streamable_http_client(f"{base}/mcp", http_client=http))
        env = {"PATH": "/usr/bin:/bin"}
        if tok:
            env["ROOST_TOKEN"] = tok
        nodes = sys.argv[5] if len(sys.argv) > 5 else base
        params = StdioServerParameters(command=sys.argv[4], args=["mcp", "--url", nodes], env=env)
        return Client(params)

    async with connect(token) as client:
        await tools_are_listed(client)
        auth = await queue_flow(client)
        await form_flow(client, base, auth)
        await job_flow(client)
        await work_flow(client)
    await without_token(connect)
    print(f"mcp over {mode}: every check passed")


asyncio.run(main())
